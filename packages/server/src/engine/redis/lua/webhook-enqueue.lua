--[[
webhook-enqueue: queues one event for this webhook whatever it subscribes to (webhook.ping), and
announces it on the wake channel (not a key).
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  queue bound (exact; what it drops is counted)   ARGV[2] eventId   ARGV[3] type   ARGV[4] at
ARGV[5]  event JSON   ARGV[6] wake channel   ARGV[7] wake message
Returns  the delivery id, or false when the webhook is absent
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return false
end
local id = queue_append(k, ARGV[1],
  {'eventId', ARGV[2], 'type', ARGV[3], 'at', ARGV[4], 'conversationId', '', 'event', ARGV[5]})
redis.call('PUBLISH', ARGV[6], ARGV[7])
return id
