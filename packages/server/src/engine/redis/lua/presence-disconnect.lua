--[[
presence-disconnect: one connection fewer of a user on a node. When the user is announced online
and has no connection left on a live node, they go offline with lastSeenAt = now. Without a
connection on the node nothing changes.
KEYS[1]  the user's presence hash (node:<nodeId> -> connections, online, lastSeenAt)
ARGV[1]  nodeId   ARGV[2] now
ARGV[3..] the registered nodes: nodeId, expiresAt, nodeId, expiresAt, ...
Returns  {went offline 1|0, connections left on the node}
]]
--#include presence
local own = 'node:' .. ARGV[1]
local count = tonumber(redis.call('HGET', KEYS[1], own) or '0')
if count <= 0 then
  return {0, 0}
end
if count > 1 then
  redis.call('HSET', KEYS[1], own, count - 1)
else
  redis.call('HDEL', KEYS[1], own)
end
local now = tonumber(ARGV[2])
if settle(KEYS[1], live_nodes(ARGV, 3, now), now) then
  return {1, count - 1}
end
return {0, count - 1}
