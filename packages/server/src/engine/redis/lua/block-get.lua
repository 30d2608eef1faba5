--[[
block-get: whether a user blocks another, with the tenant's block-seq counter read in the same
step, for a direct conversation that has no copy of that block yet (lib/block-mirror.lua): a
block or unblock after this read carries a higher number, so its copy wins over this one.
KEYS[1]  the tenant's block-seq counter   KEYS[2] the blocker's blocks set
ARGV[1]  blocked userId
Returns  {version (0 before any block in the tenant), 1 when blocking | 0}
]]
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('SISMEMBER', KEYS[2], ARGV[1])}
