--[[
presence-node-claim: takes a node whose heartbeat expired out of the registry, so that exactly
one sweeper handles it; a node that renewed its heartbeat in the meantime is left alone.
KEYS[1]  the registry of nodes (zset nodeId -> expiresAt)
ARGV[1]  nodeId   ARGV[2] now (expired when expiresAt < now)
Returns  1 when this call claimed the node, else 0
]]
local expires_at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires_at or tonumber(expires_at) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
