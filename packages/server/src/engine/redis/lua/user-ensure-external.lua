--[[
user-ensure-external: the user of an external (provider, subject) pair, created on first sight.
Claiming the pair and storing the user are one step, so of concurrent first requests for one pair
(on any nodes) exactly one creates the user. The username is claimed only when free.
KEYS[1]  external-users hash of the tenant (JSON [provider, issuer, subject] -> userId)
KEYS[2]  usernames hash of the tenant
KEYS[3]  user hash of the candidate id
ARGV[1]  pair   ARGV[2] candidate userId   ARGV[3] displayName   ARGV[4] username, '' for none
ARGV[5]  identity JSON   ARGV[6] now
Returns  {'created', userId} | {'existing', userId} | {'id_taken'} (the candidate id is used; nothing changed)
]]
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then
  return {'existing', known}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'id_taken'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'id', ARGV[2], 'displayName', ARGV[3], 'identity', ARGV[5],
  'createdAt', ARGV[6], 'updatedAt', ARGV[6])
if ARGV[4] ~= '' and redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[3], 'username', ARGV[4])
end
return {'created', ARGV[2]}
