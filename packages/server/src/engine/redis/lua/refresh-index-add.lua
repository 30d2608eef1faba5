--[[
refresh-index-add: indexes a new refresh family under its user, forgets entries that expired,
and keeps at most ARGV[4] entries by evicting those expiring soonest (the caller deletes their
families, which live in other slots). The index expires with its last family.
KEYS[1]  the user's refresh family index (zset familyId -> expiresAt)
ARGV[1]  familyId   ARGV[2] expiresAt   ARGV[3] now   ARGV[4] most families per user
Returns  the evicted familyIds
]]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
local evicted = {}
if excess > 0 then
  evicted = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return evicted
