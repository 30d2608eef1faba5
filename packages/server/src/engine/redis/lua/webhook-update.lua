--[[
webhook-update: writes a webhook's settings (update, rotateSecret) as a compare-and-set of its
data JSON, so that no concurrent change is lost: the caller read `data`, changed what it changes,
and retries when another step wrote `data` meanwhile. `enabled` is changed here, not read back:
'1' on a disabled webhook also clears failingSince and disabledAt, '0' keeps them. Routing follows
(the routes value lists the new data's types).
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  data JSON as read   ARGV[2] data JSON to write   ARGV[3] enabled change 1|0|'' (none)
ARGV[4]  routes field   ARGV[5] routes value
Returns  the webhook hash as HGETALL, 'conflict' when data changed since read, false when absent
]]
--#include webhooks
local k = webhook_keys(KEYS)
local data = redis.call('HGET', k.webhook, 'data')
if not data then
  return false
end
if data ~= ARGV[1] then
  return 'conflict'
end
redis.call('HSET', k.webhook, 'data', ARGV[2])
if ARGV[3] == '1' and redis.call('HGET', k.webhook, 'enabled') ~= '1' then
  redis.call('HSET', k.webhook, 'enabled', '1', 'failingSince', '', 'disabledAt', '')
elseif ARGV[3] == '0' then
  redis.call('HSET', k.webhook, 'enabled', '0')
end
set_route(k, redis.call('HGET', k.webhook, 'enabled'), ARGV[4], ARGV[5])
return redis.call('HGETALL', k.webhook)
