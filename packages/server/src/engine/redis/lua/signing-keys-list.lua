--[[
signing-keys-list: the current signing key and the retiring ones still listed at ARGV[1]; keys whose
retirement has come (score <= now) are deleted first, so their private halves are not kept.
KEYS[1]  current kid string   KEYS[2] all keys hash (kid -> key JSON)   KEYS[3] retiring zset (kid -> retiresAt)
ARGV[1]  now (epoch ms)
Returns  {currentJson or '', kid1, retiresAt1, json1, kid2, retiresAt2, json2, ...} for the retiring keys
]]
local retired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
for _, kid in ipairs(retired) do
  redis.call('HDEL', KEYS[2], kid)
  redis.call('ZREM', KEYS[3], kid)
end

local reply = {''}
local current = redis.call('GET', KEYS[1])
if current then
  reply[1] = redis.call('HGET', KEYS[2], current) or ''
end
local retiring = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #retiring, 2 do
  local json = redis.call('HGET', KEYS[2], retiring[i])
  if json then
    reply[#reply + 1] = retiring[i]
    reply[#reply + 1] = retiring[i + 1]
    reply[#reply + 1] = json
  end
end
return reply
