--[[
refresh-rotate: compare-and-rotate of a refresh-token family. Of concurrent rotations with one
token exactly one matches the current generation. Presenting an older generation is reuse, and
deletes (revokes) the whole family, only when its secret matches the one that generation was
issued with (kept as `spent:<generation>` for the last ARGV[7] generations): a forged token naming
a spent generation proves nothing and must not end anyone's session.
KEYS[1]  family hash
ARGV[1]  presented generation   ARGV[2] presented secretHash
ARGV[3]  next secretHash   ARGV[4] next expiresAt   ARGV[5] now   ARGV[6] ms until next expiresAt
ARGV[7]  spent generations remembered
Returns  {'rotated', userId, new generation} | {'reused'} | {'invalid'}
]]
local family = redis.call('HMGET', KEYS[1], 'userId', 'generation', 'secretHash', 'expiresAt')
if not family[1] or tonumber(family[4]) <= tonumber(ARGV[5]) then
  return {'invalid'}
end
local current, presented = tonumber(family[2]), tonumber(ARGV[1])
if presented < current then
  if redis.call('HGET', KEYS[1], 'spent:' .. ARGV[1]) == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return {'reused'}
  end
  return {'invalid'}
end
if presented > current or family[3] ~= ARGV[2] then
  return {'invalid'}
end
redis.call('HSET', KEYS[1], 'generation', current + 1, 'secretHash', ARGV[3], 'expiresAt', ARGV[4],
  'spent:' .. current, family[3])
local forgotten = current - tonumber(ARGV[7])
if forgotten >= 0 then
  redis.call('HDEL', KEYS[1], 'spent:' .. forgotten)
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'rotated', family[1], current + 1}
