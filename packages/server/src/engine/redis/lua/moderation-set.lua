--[[
moderation-set: stores or lifts one user's entry in a conversation's mutes or bans (a hash of
userId → JSON, with a zset of the same user ids at score 0 that pages them in id order).
KEYS[1]  meta hash   KEYS[2] entries hash (mutes or bans)   KEYS[3] order zset of that hash
ARGV[1]  userId   ARGV[2] entry JSON ('' lifts the entry)
Returns  1 | 0 when the conversation is absent (nothing written)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
return 1
