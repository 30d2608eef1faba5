--[[
block-mirror: copies one block or unblock (numbered by block-set) onto the pair's direct
conversation, unless the conversation holds a newer copy (see lib/block-mirror.lua).
KEYS[1]  meta hash   KEYS[2] blocks hash
ARGV[1]  blocker userId   ARGV[2] version from block-set   ARGV[3] '1' blocks, '0' does not
Returns  1 when written, 0 when a newer copy was kept or the conversation does not exist
]]
--#include block-mirror
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return copy_block(KEYS[2], ARGV[1], ARGV[2], ARGV[3])
