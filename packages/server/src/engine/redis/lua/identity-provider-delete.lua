--[[
identity-provider-delete: deletes a tenant's identity provider and releases its (issuer, audience).
KEYS[1]  provider hash   KEYS[2] set of the tenant's provider ids   KEYS[3] pairs hash
KEYS[4]  set of tenants with providers
ARGV[1]  provider id   ARGV[2] holder (this provider)   ARGV[3] tenant id
Returns  1 when deleted, 0 when absent
]]
local pair = redis.call('HGET', KEYS[1], 'pair')
if not pair then
  return 0
end
if redis.call('HGET', KEYS[3], pair) == ARGV[2] then
  redis.call('HDEL', KEYS[3], pair)
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[3])
end
return 1
