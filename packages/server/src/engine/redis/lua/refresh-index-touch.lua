--[[
refresh-index-touch: after a rotation, moves the family's index entry (and the index's own expiry)
forward to the family's new expiresAt, never back. Adds the entry when missing: the family has
just rotated, so it is live (an entry left behind by a revocation racing with this is harmless:
revoking a family that is gone does nothing).
KEYS[1]  the user's refresh family index (zset familyId -> expiresAt)
ARGV[1]  familyId   ARGV[2] expiresAt   ARGV[3] now
Returns  'OK'
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl < tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 'OK'
