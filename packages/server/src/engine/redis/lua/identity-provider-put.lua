--[[
identity-provider-put: creates or replaces a tenant's identity provider, claiming its
(issuer, audience) pair in the same step so no two providers of any tenants hold one pair.
KEYS[1]  provider hash (record, pair, createdAt)
KEYS[2]  set of the tenant's provider ids
KEYS[3]  pairs hash (pair -> holder)
KEYS[4]  set of tenants with providers
ARGV[1]  provider id   ARGV[2] pair   ARGV[3] holder (this provider)   ARGV[4] record JSON (no createdAt)
ARGV[5]  tenant id     ARGV[6] most providers per tenant   ARGV[7] createdAt (kept when replacing)
Returns  {'created'|'replaced', createdAt} | {'conflict'} | {'too_many'}
]]
local holder = redis.call('HGET', KEYS[3], ARGV[2])
if holder and holder ~= ARGV[3] then
  return {'conflict'}
end
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not exists and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  return {'too_many'}
end
local createdAt = ARGV[7]
if exists then
  createdAt = redis.call('HGET', KEYS[1], 'createdAt')
  local oldPair = redis.call('HGET', KEYS[1], 'pair')
  if oldPair and oldPair ~= ARGV[2] and redis.call('HGET', KEYS[3], oldPair) == ARGV[3] then
    redis.call('HDEL', KEYS[3], oldPair)
  end
end
redis.call('HSET', KEYS[1], 'record', ARGV[4], 'pair', ARGV[2], 'createdAt', createdAt)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[5])
return {exists and 'replaced' or 'created', createdAt}
