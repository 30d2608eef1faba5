--[[
webhook-take: up to `limit` entries for a node, now in flight: retries due at `now` first (earliest
due first; each is due again `now + in-flight` unless settled before), then entries never handed
out, read by the consumer group (they stay pending for the node until settled). A due retry whose
entry the queue dropped ends as failed and is skipped.
KEYS[1..9]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId   ARGV[2] limit   ARGV[3] now   ARGV[4] in-flight timeout (ms)
Returns  {{id, {field, value, ...}, delivery record JSON | false}, ...}
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return {}
end
local limit = tonumber(ARGV[2])
local again_at = tonumber(ARGV[3]) + tonumber(ARGV[4])
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', k.retries, '-inf', ARGV[3], 'LIMIT', 0, limit)) do
  local entry = queue_entry(k, id)
  if entry then
    redis.call('ZADD', k.retries, again_at, id)
    taken[#taken + 1] = {entry[1], entry[2], redis.call('HGET', k.records, id)}
  else
    schedule_retry(k, id, nil)
    record_failed(k, id)
  end
end
if #taken < limit then
  local reply = redis.call('XREADGROUP', 'GROUP', WEBHOOK_GROUP, ARGV[1], 'COUNT', limit - #taken, 'STREAMS', k.queue, '>')
  if reply then
    for _, entry in ipairs(reply[1][2]) do
      taken[#taken + 1] = {entry[1], entry[2], false}
    end
  end
end
return taken
