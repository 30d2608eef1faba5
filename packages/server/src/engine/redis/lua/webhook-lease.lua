--[[
webhook-lease: takes or renews the lease on a webhook's queue. The lease holds "<expiresAt> <nodeId>"
and is judged by the given time; the key also expires on Redis's clock so nothing is left behind.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  nodeId   ARGV[2] ttl (ms, >= 1)   ARGV[3] now
Returns  'acquired' | 'renewed' | 'held' | 'absent'
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return 'absent'
end
local now = tonumber(ARGV[3])
local holder = nil
local current = redis.call('GET', k.lease)
if current then
  local expires_at, node = string.match(current, '^(%d+) (.*)$')
  if expires_at and tonumber(expires_at) > now then
    holder = node
  end
end
if holder and holder ~= ARGV[1] then
  return 'held'
end
redis.call('SET', k.lease, string.format('%d', now + tonumber(ARGV[2])) .. ' ' .. ARGV[1], 'PX', ARGV[2])
if holder then
  return 'renewed'
end
return 'acquired'
