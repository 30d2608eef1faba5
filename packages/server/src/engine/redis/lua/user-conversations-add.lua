--[[
user-conversations-add: records in the tenant slot that users belong to a conversation. The per-user
sets are supersets of real membership (written before joining and again after), so this never
needs to be atomic with the conversation's own script, which lives in another slot.
KEYS[1]     conversation activity zset of the tenant (conversationId -> lastActivityAt)
KEYS[2..n]  per-user conversation sets
ARGV[1]     conversationId
ARGV[2]     activity to record when the conversation has none yet ('' to leave the zset alone)
Returns     the number of sets that gained the conversation
]]
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
end
local added = 0
for i = 2, #KEYS do
  added = added + redis.call('SADD', KEYS[i], ARGV[1])
end
return added
