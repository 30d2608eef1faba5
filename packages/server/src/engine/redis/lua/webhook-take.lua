--[[
webhook-take: up to `limit` entries for the node holding the lease at `now` (none for another),
now in flight: first entries in flight unsettled since `now - in-flight` or before (whoever took
them; claimed in the group for this node, in queue order), then retries due at `now` (earliest due
first; each is due again `now + in-flight` unless settled before), then entries never handed out,
read by the consumer group (pending for the node until settled). Entries taken from the group are
noted in the in-flight zset at `now`. A due retry or stale entry whose entry the queue dropped ends
(a retry as failed) and is skipped.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId   ARGV[2] limit   ARGV[3] now   ARGV[4] in-flight timeout (ms)
Returns  {{id, {field, value, ...}, delivery record JSON | false}, ...}
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 or lease_holder(k, ARGV[3]) ~= ARGV[1] then
  return {}
end
local limit = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local in_flight_ms = tonumber(ARGV[4])
local taken = {}
local stale = redis.call('ZRANGEBYSCORE', k.in_flight, '-inf', now - in_flight_ms, 'LIMIT', 0, limit)
table.sort(stale, id_before)
for _, id in ipairs(stale) do
  local entry = queue_entry(k, id)
  if entry then
    redis.call('XCLAIM', k.queue, WEBHOOK_GROUP, ARGV[1], 0, id, 'JUSTID')
    redis.call('ZADD', k.in_flight, now, id)
    taken[#taken + 1] = {entry[1], entry[2], redis.call('HGET', k.records, id)}
  else
    redis.call('XACK', k.queue, WEBHOOK_GROUP, id)
    redis.call('ZREM', k.in_flight, id)
  end
end
if #taken < limit then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', k.retries, '-inf', now, 'LIMIT', 0, limit - #taken)) do
    local entry = queue_entry(k, id)
    if entry then
      redis.call('ZADD', k.retries, now + in_flight_ms, id)
      taken[#taken + 1] = {entry[1], entry[2], redis.call('HGET', k.records, id)}
    else
      schedule_retry(k, id, nil)
      record_failed(k, id)
    end
  end
end
if #taken < limit then
  local reply = redis.call('XREADGROUP', 'GROUP', WEBHOOK_GROUP, ARGV[1], 'COUNT', limit - #taken, 'STREAMS', k.queue, '>')
  if reply then
    for _, entry in ipairs(reply[1][2]) do
      redis.call('ZADD', k.in_flight, now, entry[1])
      taken[#taken + 1] = {entry[1], entry[2], false}
    end
  end
end
return taken
