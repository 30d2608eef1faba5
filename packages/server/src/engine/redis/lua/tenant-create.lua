--[[
tenant-create: creates a tenant with its first API key (or none); first writer wins, and the key
is never stored without its tenant.
KEYS[1]  tenant string   KEYS[2] api-keys hash
ARGV[1]  tenant record JSON {tenant, apiKeyHash, adoptedKeyId?}: with a first key, its hash and
         id too, so pods of the previous version (which read only apiKeyHash) accept it during a
         rolling upgrade (see lib/api-keys.lua)
ARGV[2]  first key id ('' for none)   ARGV[3] first key JSON {hash, createdAt}
Returns  1 created | 0 the tenant exists (nothing changed)
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
return 1
