--[[
user-conversations-add: records in the tenant slot that a user belongs to a conversation. The
per-user sets are supersets of real membership (written before joining and again after), so this
never needs to be atomic with the conversation's own script, which lives in another slot.
One user per call: callers issue one call per member and auto-pipelining sends them together.
KEYS[1]  conversation activity zset of the tenant (conversationId -> lastActivityAt)
KEYS[2]  the user's conversation set
ARGV[1]  conversationId
ARGV[2]  activity to record when the conversation has none yet ('' to leave the zset alone)
Returns  1 when the set gained the conversation, else 0
]]
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
end
return redis.call('SADD', KEYS[2], ARGV[1])
