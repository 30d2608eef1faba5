--[[
user-update: changes the given fields of an existing user and stamps updatedAt.
KEYS[1]  user hash
ARGV[1]  '1' when a displayName is given   ARGV[2] displayName   ARGV[3] now
Returns  {id, username, displayName, metadata, createdAt, updatedAt, identity}, or false when absent
         or deleted
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'deletedAt') == 1 then
  return false
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'displayName', ARGV[2])
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
return redis.call('HMGET', KEYS[1], 'id', 'username', 'displayName', 'metadata', 'createdAt', 'updatedAt', 'identity')
