--[[
webhook-delete: deletes a webhook with its routing, queue, retries, delivery records and lease.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  webhook id   ARGV[2] routes field
Returns  1, or 0 when the webhook is absent
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('ZREM', k.index, ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', k.routes, ARGV[2])
redis.call('DEL', k.webhook, k.queue, k.retries, k.retry_age, k.records, k.record_order, k.lease, k.in_flight, k.settled_order)
return 1
