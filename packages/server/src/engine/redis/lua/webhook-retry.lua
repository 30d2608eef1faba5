--[[
webhook-retry: a manual retry. A delivered or failed delivery becomes pending, due at `now`
(attempts kept); a pending one is left as it is; one whose entry left the queue is marked failed.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  deliveryId   ARGV[2] now
Returns  'queued' | 'pending' | 'dropped' | 'not_found'
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return 'not_found'
end
local id = ARGV[1]
local raw = redis.call('HGET', k.records, id)
if not raw or not stream_id(id) then
  return 'not_found'
end
local record = cjson.decode(raw)
if record.status == 'pending' then
  return 'pending'
end
if not queue_entry(k, id) then
  record_failed(k, id)
  return 'dropped'
end
record.status = 'pending'
record.nextAttemptAt = tonumber(ARGV[2])
redis.call('HSET', k.records, id, cjson.encode(record))
redis.call('ZREM', k.settled_order, id)
schedule_retry(k, id, ARGV[2])
return 'queued'
