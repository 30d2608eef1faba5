--[[
webhook-reclaim: hands this node up to `limit` entries pending in the group for other consumers
(nodes that took them and never settled them), claimed for this node, in queue order; they count
as taken at the lease's expiry (0 without a lease). Entries the queue dropped meanwhile leave the
pending list (XCLAIM does that) and are not returned. Consumers other than this node left with no
pending entries are deleted, so that they do not pile up per process start. The caller repeats
while it gets `limit` entries.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId   ARGV[2] limit
Returns  {{id, {field, value, ...}}, ...}
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.queue) == 0 then
  return {}
end
local limit = tonumber(ARGV[2])
local ids = {}
local emptied = {}
for _, fields in ipairs(redis.call('XINFO', 'CONSUMERS', k.queue, WEBHOOK_GROUP)) do
  local info = {}
  for i = 1, #fields, 2 do
    info[fields[i]] = fields[i + 1]
  end
  if info.name ~= ARGV[1] then
    local left = info.pending
    if left > 0 and #ids < limit then
      for _, pending in ipairs(redis.call('XPENDING', k.queue, WEBHOOK_GROUP, '-', '+', limit - #ids, info.name)) do
        ids[#ids + 1] = pending[1]
        left = left - 1
      end
    end
    if left == 0 then
      emptied[#emptied + 1] = info.name
    end
  end
end
local reclaimed = {}
if #ids > 0 then
  table.sort(ids, id_before)
  local taken_at = lease_expiry(k) or 0
  redis.call('ZREM', k.in_flight, unpack(ids))
  for _, entry in ipairs(redis.call('XCLAIM', k.queue, WEBHOOK_GROUP, ARGV[1], 0, unpack(ids))) do
    if entry then
      redis.call('ZADD', k.in_flight, taken_at, entry[1])
      reclaimed[#reclaimed + 1] = entry
    end
  end
end
-- After the claim: deleting a consumer drops what it still has pending.
for _, name in ipairs(emptied) do
  redis.call('XGROUP', 'DELCONSUMER', k.queue, WEBHOOK_GROUP, name)
end
return reclaimed
