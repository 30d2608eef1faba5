--[[
signing-key-rotate: makes the candidate the current signing key; the key it replaces stays listed
until ARGV[4]. Keys whose retirement has come (score <= now) are deleted first. Refused when the
rotation would list more than ARGV[5] keys.
KEYS[1]  current kid string   KEYS[2] all keys hash (kid -> key JSON)   KEYS[3] retiring zset (kid -> retiresAt)
ARGV[1]  candidate kid   ARGV[2] candidate key JSON (opaque: never decoded here)
ARGV[3]  now (epoch ms)   ARGV[4] retiresAt of the replaced key   ARGV[5] most keys listed at once
Returns  {'exists'} when the candidate kid is stored already (nothing changed)
         {'limit', retryAt} when too many keys are listed (nothing changed); retryAt: the first retirement
         {'rotated', kid1, retiresAt1, kid2, retiresAt2, ...} every retiring key after the rotation
]]
local retired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
for _, kid in ipairs(retired) do
  redis.call('HDEL', KEYS[2], kid)
  redis.call('ZREM', KEYS[3], kid)
end

if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return {'exists'}
end

local current = redis.call('GET', KEYS[1])
if current and redis.call('HEXISTS', KEYS[2], current) == 0 then
  current = false
end
local listed = redis.call('ZCARD', KEYS[3])
if current then
  listed = listed + 1
end
if listed + 1 > tonumber(ARGV[5]) then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {'limit', first[2] or ARGV[3]}
end

if current then
  redis.call('ZADD', KEYS[3], ARGV[4], current)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])

local reply = {'rotated'}
for _, entry in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')) do
  reply[#reply + 1] = entry
end
return reply
