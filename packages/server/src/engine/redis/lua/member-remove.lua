--[[
member-remove: removes one membership.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset
ARGV[1]  userId
Returns  1 when removed, 0 when the conversation or the membership is absent
]]
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'memberCount', -1)
return 1
