--[[
api-key-create: adds an API key to a tenant unless it has `max` live keys already; the count is
read and the key stored in one step.
KEYS[1]  tenant string   KEYS[2] api-keys hash
ARGV[1]  key id   ARGV[2] key JSON {hash, createdAt}   ARGV[3] max live keys
Returns  'created' | 'tenant_not_found' | 'id_taken' | 'too_many_api_keys'
]]
--#include api-keys
if not adopt_legacy_key(KEYS[1], KEYS[2]) then
  return 'tenant_not_found'
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 'id_taken'
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then
  return 'too_many_api_keys'
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'created'
