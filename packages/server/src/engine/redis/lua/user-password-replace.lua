--[[
user-password-replace: compare-and-set of a built-in user's password hash, so that of two
concurrent changes from the same current password exactly one wins.
KEYS[1]  user hash
ARGV[1]  the hash the caller verified against   ARGV[2] the new hash   ARGV[3] now (updatedAt)
Returns  1 when replaced; 0 when the user is absent, deleted, has no password or another hash
]]
if redis.call('HEXISTS', KEYS[1], 'deletedAt') == 1 or redis.call('HGET', KEYS[1], 'passwordHash') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2], 'updatedAt', ARGV[3])
return 1
