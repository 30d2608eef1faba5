--[[
webhook-update: replaces a webhook's fields (not createdAt) and its routing in one step.
KEYS[1..9]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  data JSON   ARGV[2] enabled 1|0   ARGV[3] failingSince ('' none)   ARGV[4] disabledAt ('' none)
ARGV[5]  routes field   ARGV[6] routes value
Returns  1, or 0 when the webhook is absent
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return 0
end
redis.call('HSET', k.webhook, 'data', ARGV[1], 'enabled', ARGV[2], 'failingSince', ARGV[3], 'disabledAt', ARGV[4])
set_route(k, ARGV[2], ARGV[5], ARGV[6])
return 1
