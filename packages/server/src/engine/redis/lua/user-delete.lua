--[[
user-delete: deletes a user in one step, keeping only its id, createdAt and deletedAt (the id is
never reused, and messages keep pointing at it). Frees the username (only if it still names this
user), drops the user's own block list and unlinks its external (provider, subject) pair (only if
it still names this user), so that identity signs in as a new user afterwards.
KEYS[1]  user hash   KEYS[2] usernames hash of the tenant   KEYS[3] the user's blocks set
KEYS[4]  external-users hash of the tenant
ARGV[1]  now (deletedAt)   ARGV[2] the user's external key (JSON [provider, issuer, subject]), '' for none
Returns  1 when deleted, 0 when absent or already deleted (nothing changed)
]]
local fields = redis.call('HMGET', KEYS[1], 'id', 'username', 'createdAt', 'deletedAt')
if not fields[1] or fields[4] then
  return 0
end
if fields[2] and redis.call('HGET', KEYS[2], fields[2]) == fields[1] then
  redis.call('HDEL', KEYS[2], fields[2])
end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[4], ARGV[2]) == fields[1] then
  redis.call('HDEL', KEYS[4], ARGV[2])
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HSET', KEYS[1], 'id', fields[1], 'createdAt', fields[3], 'deletedAt', ARGV[1])
return 1
