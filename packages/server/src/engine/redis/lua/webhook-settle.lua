--[[
webhook-settle: records an attempt at an entry in flight and ends its in-flight state in one step:
acknowledged in the group, its retry cleared, or rescheduled for `retry`; the delivery record
replaced (records trimmed to the newest); failingSince cleared by `delivered`, else set to now when
unset, and the webhook disabled (routing removed) when failing since at or before the limit.
KEYS[1..9]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  deliveryId   ARGV[2] delivery record JSON   ARGV[3] outcome delivered|retry|failed
ARGV[4]  now   ARGV[5] disable when failing since at or before this   ARGV[6] record score (lastAttemptAt)
ARGV[7]  retry due time   ARGV[8] routes field   ARGV[9] max delivery records
Returns  1 when this disabled the webhook, else 0 (also when the webhook is absent)
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return 0
end
local id = ARGV[1]
if stream_id(id) then
  redis.call('XACK', k.queue, WEBHOOK_GROUP, id)
  schedule_retry(k, id, nil)
  if ARGV[3] == 'retry' then
    schedule_retry(k, id, ARGV[7])
  end
end
redis.call('HSET', k.records, id, ARGV[2])
redis.call('ZADD', k.record_order, ARGV[6], id)
local excess = redis.call('ZCARD', k.record_order) - tonumber(ARGV[9])
if excess > 0 then
  local gone = redis.call('ZRANGE', k.record_order, 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', k.record_order, 0, excess - 1)
  redis.call('HDEL', k.records, unpack(gone))
end
if ARGV[3] == 'delivered' then
  redis.call('HSET', k.webhook, 'failingSince', '')
  return 0
end
local failing_since = redis.call('HGET', k.webhook, 'failingSince')
if not failing_since or failing_since == '' then
  failing_since = ARGV[4]
  redis.call('HSET', k.webhook, 'failingSince', failing_since)
end
if redis.call('HGET', k.webhook, 'enabled') == '1' and tonumber(failing_since) <= tonumber(ARGV[5]) then
  redis.call('HSET', k.webhook, 'enabled', '0', 'disabledAt', ARGV[4])
  redis.call('HDEL', k.routes, ARGV[8])
  return 1
end
return 0
