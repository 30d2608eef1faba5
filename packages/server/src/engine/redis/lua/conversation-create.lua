--[[
conversation-create: creates a conversation with its members, visible whole or not at all.
Idempotent: when the conversation exists it is returned unchanged, so concurrent creators of one
direct conversation agree on it and exactly one of them sees created = 1.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset
ARGV[1]  conversationId   ARGV[2] type   ARGV[3] '1' when titled   ARGV[4] title   ARGV[5] createdAt
ARGV[6..] userId, role, userId, role, ... (distinct users)
Returns  {created 1|0, meta as HGETALL}
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local created_at = ARGV[5]
local joined = 0
for i = 6, #ARGV, 2 do
  local member = cjson.encode({ role = ARGV[i + 1], lastReadSeq = 0, joinedAt = tonumber(created_at) })
  if redis.call('HSETNX', KEYS[2], ARGV[i], member) == 1 then
    joined = joined + 1
    redis.call('ZADD', KEYS[3], joined, ARGV[i])
  end
end
redis.call('HSET', KEYS[1],
  'id', ARGV[1], 'type', ARGV[2], 'createdAt', created_at, 'lastSeq', 0,
  'lastActivityAt', created_at, 'memberCount', joined, 'joinSeq', joined)
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'title', ARGV[4])
end
return {1, redis.call('HGETALL', KEYS[1])}
