--[[
webhook-route: the Cluster relay's step (redis-webhook-outbox.ts) for one tenant. Queues events
taken from an outbox for every enabled webhook of the tenant subscribed to their types, exactly as
a logging step queues them off Cluster (lua/lib/event-log.lua queue_routed: same fields, same
event id, same exact bound with what it drops counted). The queue streams and webhook hashes are
in the tenant's webhook slot with KEYS[1], named from ARGV[1] and ARGV[5].
KEYS[1]  the tenant's routes hash
ARGV[1]  queue key prefix   ARGV[2] wake channel   ARGV[3] wake message prefix   ARGV[4] queue bound
ARGV[5]  webhook hash key prefix
ARGV[6..] groups of four, one per event in outbox order: conversationId, log id, at (ms), event JSON
Returns  the number of entries queued (events × webhooks)
]]
--#include event-log
local routes = redis.call('HGETALL', KEYS[1])
if #routes == 0 then
  return 0
end
local queue = {prefix = ARGV[1], wake = ARGV[2], wake_prefix = ARGV[3], max = ARGV[4], hash_prefix = ARGV[5]}
local queued = 0
for i = 6, #ARGV, 4 do
  queued = queued + queue_routed(routes, queue, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
return queued
