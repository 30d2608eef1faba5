--[[
signing-key-ensure: returns the current signing key, storing the candidate first when there is
none; first writer wins, so nodes starting together agree on one key.
KEYS[1]  current kid string   KEYS[2] all keys hash (kid -> key JSON)
ARGV[1]  candidate kid   ARGV[2] candidate key JSON (opaque: never decoded here)
Returns  the current key JSON
]]
local kid = redis.call('GET', KEYS[1])
if kid then
  local current = redis.call('HGET', KEYS[2], kid)
  if current then
    return current
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[2]
