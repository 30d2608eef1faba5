--[[
webhook-create: creates a webhook with its routing and its queue (a stream with the consumer
group), atomic with the tenant's count. Leftover keys of the id are cleared first.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  webhook id   ARGV[2] createdAt   ARGV[3] data JSON {url, events, description, secrets}
ARGV[4]  enabled 1|0   ARGV[5] failingSince ('' none)   ARGV[6] disabledAt ('' none)
ARGV[7]  max webhooks per tenant   ARGV[8] routes field   ARGV[9] routes value ("\n<type>\n...\n")
Returns  'created' | 'too_many_webhooks' | 'id_taken'
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('ZSCORE', k.index, ARGV[1]) then
  return 'id_taken'
end
if redis.call('ZCARD', k.index) >= tonumber(ARGV[7]) then
  return 'too_many_webhooks'
end
redis.call('DEL', k.webhook, k.queue, k.retries, k.retry_age, k.records, k.record_order, k.lease, k.in_flight)
redis.call('ZADD', k.index, ARGV[2], ARGV[1])
redis.call('HSET', k.webhook, 'data', ARGV[3], 'createdAt', ARGV[2], 'enabled', ARGV[4], 'failingSince', ARGV[5], 'disabledAt', ARGV[6])
set_route(k, ARGV[4], ARGV[8], ARGV[9])
redis.call('XGROUP', 'CREATE', k.queue, WEBHOOK_GROUP, '$', 'MKSTREAM')
return 'created'
