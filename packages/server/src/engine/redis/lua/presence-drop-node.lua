--[[
presence-drop-node: forgets a user's connections on a node that is gone (claimed by a sweep after
its heartbeat expired, or shut down). The user went offline because of it when announced online
with no connection left on a live node; lastSeenAt is then now.
KEYS[1]  the user's presence hash (node:<nodeId> -> connections, online, lastSeenAt)
ARGV[1]  nodeId of the node that is gone   ARGV[2] now
ARGV[3..] the registered nodes (the gone one no longer among them): nodeId, expiresAt, ...
Returns  1 when the user went offline because of it, else 0
]]
--#include presence
if redis.call('HDEL', KEYS[1], 'node:' .. ARGV[1]) == 0 then
  return 0
end
local now = tonumber(ARGV[2])
if settle(KEYS[1], live_nodes(ARGV, 3, now), now) then
  return 1
end
return 0
