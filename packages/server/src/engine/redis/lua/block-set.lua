--[[
block-set: blocks or unblocks a user and numbers the change, in the tenant's slot. Returns the
direct conversation of the pair, if one was claimed, so the caller copies the change onto it
(block-mirror) with the number it got here: of two copies, the higher number wins.
KEYS[1]  the blocker's blocks set   KEYS[2] the tenant's block-seq counter   KEYS[3] direct-pairs hash
ARGV[1]  blocked userId   ARGV[2] '1' to block, '0' to unblock   ARGV[3] the pair's direct-pairs field
Returns  {version, conversationId | false}
]]
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[1], ARGV[1])
else
  redis.call('SREM', KEYS[1], ARGV[1])
end
return {redis.call('INCR', KEYS[2]), redis.call('HGET', KEYS[3], ARGV[3])}
