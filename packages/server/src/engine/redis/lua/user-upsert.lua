--[[
user-upsert: creates the user or replaces its displayName and metadata, keeping username,
createdAt and credentials. Metadata is opaque JSON text: Lua never decodes it.
KEYS[1]  user hash
ARGV[1]  userId   ARGV[2] displayName   ARGV[3] metadata JSON, '' for none   ARGV[4] now
Returns  {created 1|0, {id, username, displayName, metadata, createdAt, updatedAt, identity}}, or
         'deleted' (nothing changed) when the id belongs to a deleted user: ids are never reused
]]
if redis.call('HEXISTS', KEYS[1], 'deletedAt') == 1 then
  return 'deleted'
end
local created = redis.call('EXISTS', KEYS[1]) == 0
if created then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'createdAt', ARGV[4])
end
redis.call('HSET', KEYS[1], 'displayName', ARGV[2], 'updatedAt', ARGV[4])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'metadata')
else
  redis.call('HSET', KEYS[1], 'metadata', ARGV[3])
end
local fields = redis.call('HMGET', KEYS[1], 'id', 'username', 'displayName', 'metadata', 'createdAt', 'updatedAt', 'identity')
return {created and 1 or 0, fields}
