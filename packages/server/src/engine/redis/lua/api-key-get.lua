--[[
api-key-get: one live API key of a tenant, adopting a key stored the old way when the id is not
found (so a tenant written before keys had ids keeps authenticating).
KEYS[1]  tenant string   KEYS[2] api-keys hash
ARGV[1]  key id
Returns  the key JSON {hash, createdAt} | false
]]
--#include api-keys
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if stored then
  return stored
end
adopt_legacy_key(KEYS[1], KEYS[2])
return redis.call('HGET', KEYS[2], ARGV[1])
