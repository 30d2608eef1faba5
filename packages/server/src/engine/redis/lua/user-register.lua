--[[
user-register: claims a username and stores a built-in user in one step, so of two concurrent
registrations of one username exactly one succeeds.
KEYS[1]  usernames hash of the tenant (username -> userId)
KEYS[2]  user hash
ARGV[1]  username   ARGV[2] userId   ARGV[3] displayName   ARGV[4] passwordHash   ARGV[5] createdAt
Returns  'created' | 'username_taken' | 'id_taken' (a user with this id exists; nothing changed)
]]
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 'username_taken'
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'id_taken'
end
redis.call('HSET', KEYS[2],
  'id', ARGV[2], 'username', ARGV[1], 'displayName', ARGV[3],
  'createdAt', ARGV[5], 'updatedAt', ARGV[5], 'passwordHash', ARGV[4])
return 'created'
