--[[
webhook-reclaim: hands this node every entry taken from the queue and never settled (the consumer
group's pending entries, whoever took them), in queue order. Entries the queue dropped meanwhile
leave the pending list (XAUTOCLAIM does that) and are not returned.
KEYS[1..9]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId
Returns  {{id, {field, value, ...}}, ...}
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.queue) == 0 then
  return {}
end
local reclaimed = {}
local cursor = '0-0'
repeat
  local reply = redis.call('XAUTOCLAIM', k.queue, WEBHOOK_GROUP, ARGV[1], 0, cursor, 'COUNT', 1000)
  cursor = reply[1]
  for _, entry in ipairs(reply[2]) do
    if entry then
      reclaimed[#reclaimed + 1] = entry
    end
  end
until cursor == '0-0'
return reclaimed
