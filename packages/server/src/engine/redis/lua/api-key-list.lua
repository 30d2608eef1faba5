--[[
api-key-list: the live API keys of a tenant with their recorded uses (bounded by the key limit).
KEYS[1]  tenant string   KEYS[2] api-keys hash   KEYS[3] api-keys-used hash
Returns  false when the tenant does not exist | {HGETALL api-keys, HGETALL api-keys-used}
]]
--#include api-keys
if not adopt_legacy_key(KEYS[1], KEYS[2]) then
  return false
end
return { redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
