--[[
presence-connect: one more connection of a user on a node. The user comes online (is announced
online) when they were not and the node is live.
KEYS[1]  the user's presence hash (node:<nodeId> -> connections, online, lastSeenAt)
ARGV[1]  nodeId   ARGV[2] now   ARGV[3] the node's expiresAt ('' when it is not registered)
Returns  {1 when the user came online else 0, the user's connections on every node not yet swept}
]]
redis.call('HINCRBY', KEYS[1], 'node:' .. ARGV[1], 1)
local fields = redis.call('HGETALL', KEYS[1])
local connections = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 5) == 'node:' then connections = connections + tonumber(fields[i + 1]) end
end
if ARGV[3] == '' or tonumber(ARGV[2]) > tonumber(ARGV[3]) or redis.call('HGET', KEYS[1], 'online') == '1' then
  return {0, connections}
end
redis.call('HSET', KEYS[1], 'online', '1')
return {1, connections}
