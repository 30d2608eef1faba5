--[[
api-key-touch: records a use of a live API key; monotonic, and never for a revoked key.
KEYS[1]  api-keys hash   KEYS[2] api-keys-used hash
ARGV[1]  key id   ARGV[2] usedAt (epoch ms)
Returns  1 recorded | 0 unchanged
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local used = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if used >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
