--[[
refresh-rotate: compare-and-rotate of a refresh-token family. Of concurrent rotations with one
token exactly one matches the current generation. Presenting an older generation is reuse, and
deletes (revokes) the whole family, only when its secret matches one that generation accepted
(kept as `spent:<generation>` for the last ARGV[7] generations): a forged token naming a spent
generation proves nothing and must not end anyone's session.
Grace window: the generation spent by the latest rotation, presented with a secret it accepted
at most ARGV[8] ms after that rotation (`rotatedAt`), gets a sibling instead: ARGV[3] becomes one
more accepted hash of the current generation (at most ARGV[9] in all; beyond that it is reuse).
Accepted hashes (`secretHash`, `spent:<g>`) are space-separated lists: hashes are base64url.
KEYS[1]  family hash
ARGV[1]  presented generation   ARGV[2] presented secretHash
ARGV[3]  next secretHash   ARGV[4] next expiresAt   ARGV[5] now   ARGV[6] ms until next expiresAt
ARGV[7]  spent generations remembered   ARGV[8] grace window in ms (0: none)
ARGV[9]  most accepted hashes of one generation
Returns  {'rotated', userId, generation of the new token} | {'reused', userId} | {'invalid'}
]]
local function count(list)
  local n = 0
  for _ in string.gmatch(list or '', '%S+') do n = n + 1 end
  return n
end

local function accepts(list, hash)
  for candidate in string.gmatch(list or '', '%S+') do
    if candidate == hash then return true end
  end
  return false
end

local family = redis.call('HMGET', KEYS[1], 'userId', 'generation', 'secretHash', 'expiresAt', 'rotatedAt')
local now = tonumber(ARGV[5])
if not family[1] or tonumber(family[4]) <= now then
  return {'invalid'}
end
local current, presented = tonumber(family[2]), tonumber(ARGV[1])
if presented < current then
  if not accepts(redis.call('HGET', KEYS[1], 'spent:' .. ARGV[1]), ARGV[2]) then
    return {'invalid'}
  end
  local grace = tonumber(ARGV[8])
  if grace > 0 and presented == current - 1 and family[5] and now - tonumber(family[5]) <= grace
    and count(family[3]) < tonumber(ARGV[9]) then
    redis.call('HSET', KEYS[1], 'secretHash', family[3] .. ' ' .. ARGV[3], 'expiresAt', ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    return {'rotated', family[1], current}
  end
  redis.call('DEL', KEYS[1])
  return {'reused', family[1]}
end
if presented > current or not accepts(family[3], ARGV[2]) then
  return {'invalid'}
end
redis.call('HSET', KEYS[1], 'generation', current + 1, 'secretHash', ARGV[3], 'expiresAt', ARGV[4],
  'rotatedAt', ARGV[5], 'spent:' .. current, family[3])
local forgotten = current - tonumber(ARGV[7])
if forgotten >= 0 then
  redis.call('HDEL', KEYS[1], 'spent:' .. forgotten)
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'rotated', family[1], current + 1}
