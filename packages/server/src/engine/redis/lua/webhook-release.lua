--[[
webhook-release: gives the lease up when this node holds it.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId
Returns  1 when released, else 0
]]
--#include webhooks
local k = webhook_keys(KEYS)
local current = redis.call('GET', k.lease)
if current and string.match(current, '^%d+ (.*)$') == ARGV[1] then
  redis.call('DEL', k.lease)
  return 1
end
return 0
