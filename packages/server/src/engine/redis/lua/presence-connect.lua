--[[
presence-connect: one more connection of a user on a node. The user comes online (is announced
online) when they were not and the node is live.
KEYS[1]  the user's presence hash (node:<nodeId> -> connections, online, lastSeenAt)
ARGV[1]  nodeId   ARGV[2] now   ARGV[3] the node's expiresAt ('' when it is not registered)
Returns  1 when the user came online, else 0
]]
redis.call('HINCRBY', KEYS[1], 'node:' .. ARGV[1], 1)
if ARGV[3] == '' or tonumber(ARGV[2]) > tonumber(ARGV[3]) or redis.call('HGET', KEYS[1], 'online') == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'online', '1')
return 1
