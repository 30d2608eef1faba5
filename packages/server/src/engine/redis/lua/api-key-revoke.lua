--[[
api-key-revoke: deletes a live API key of a tenant (a key stored the old way is adopted first,
so it can be revoked like any other), and clears it from the tenant record when the record still
holds it for the previous version (lib/api-keys.lua).
KEYS[1]  tenant string   KEYS[2] api-keys hash   KEYS[3] api-keys-used hash
ARGV[1]  key id
Returns  1 revoked | 0 no such live key
]]
--#include api-keys
adopt_legacy_key(KEYS[1], KEYS[2])
forget_legacy_key(KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
