-- adopt_legacy_key(tenant_key, keys_key): whether the tenant exists; first moves a key stored the
-- way tenants were written before they had several keys (its hash in the tenant record's
-- apiKeyHash) into the keys hash, once, and sets apiKeyHash to null so that a revoked key is never
-- adopted again. Its id is the one auth/api-keys.ts derives from the key: characters 8..23 of the
-- stored hash (`sha256:` then base64url), its createdAt the tenant's.
local function adopt_legacy_key(tenant_key, keys_key)
  local json = redis.call('GET', tenant_key)
  if not json then
    return false
  end
  local record = cjson.decode(json)
  local hash = record['apiKeyHash']
  if type(hash) == 'string' then
    redis.call('HSETNX', keys_key, string.sub(hash, 8, 23),
      cjson.encode({ hash = hash, createdAt = record['tenant']['createdAt'] }))
    record['apiKeyHash'] = cjson.null
    redis.call('SET', tenant_key, cjson.encode(record))
  end
  return true
end
