-- adopt_legacy_key(tenant_key, keys_key): whether the tenant exists; first copies a key stored the
-- way tenants were written before they had several keys (its hash in the tenant record's
-- apiKeyHash) into the keys hash, once. Its id is the one auth/api-keys.ts derives from the key:
-- characters 8..23 of the stored hash (`sha256:` then base64url), its createdAt the tenant's.
-- Rolling-upgrade compatibility (drop one release after the multi-key version): the previous
-- version reads only apiKeyHash, so adoption keeps it there and marks the record with
-- adoptedKeyId instead of clearing it; a marked record is never adopted again, so a revoked key
-- never comes back. Once the compatibility is dropped, adoption clears apiKeyHash again.
local function adopt_legacy_key(tenant_key, keys_key)
  local json = redis.call('GET', tenant_key)
  if not json then
    return false
  end
  local record = cjson.decode(json)
  local hash = record['apiKeyHash']
  if type(hash) == 'string' and type(record['adoptedKeyId']) ~= 'string' then
    local id = string.sub(hash, 8, 23)
    redis.call('HSETNX', keys_key, id,
      cjson.encode({ hash = hash, createdAt = record['tenant']['createdAt'] }))
    record['adoptedKeyId'] = id
    redis.call('SET', tenant_key, cjson.encode(record))
  end
  return true
end

-- forget_legacy_key(tenant_key, key_id): when key_id is the key the tenant record still holds for
-- the previous version (adopted, or the first key of a tenant created by this one), clears it and
-- its mark, so a revoked key is refused by pods of either version.
local function forget_legacy_key(tenant_key, key_id)
  local json = redis.call('GET', tenant_key)
  if not json then
    return
  end
  local record = cjson.decode(json)
  if record['adoptedKeyId'] == key_id then
    record['apiKeyHash'] = cjson.null
    record['adoptedKeyId'] = nil
    redis.call('SET', tenant_key, cjson.encode(record))
  end
end
