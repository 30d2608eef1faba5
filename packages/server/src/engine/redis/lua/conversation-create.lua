--[[
conversation-create: creates a conversation with its members, visible whole or not at all, and
logs conversation.created. Idempotent: when the conversation exists it is returned unchanged and
nothing is logged, so concurrent creators of one direct conversation agree on it and exactly one
of them sees created = 1.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset   KEYS[4] events stream
KEYS[5]  topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  tenantId   ARGV[5] conversationId   ARGV[6] type   ARGV[7] '1' when titled   ARGV[8] title
ARGV[9]  createdAt
ARGV[10..] userId, role, userId, role, ... (distinct users)
Returns  {created 1|0, meta as HGETALL, id of conversation.created | nil}
]]
--#include event-log
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local log = event_log(KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3])
local created_at = ARGV[9]
local fresh, owners, seen = {}, 0, {}
for i = 10, #ARGV, 2 do
  if not seen[ARGV[i]] then
    seen[ARGV[i]] = true
    fresh[#fresh + 1] = {ARGV[i], ARGV[i + 1]}
    if ARGV[i + 1] == 'owner' then
      owners = owners + 1
    end
  end
end
redis.call('HSET', KEYS[1],
  'id', ARGV[5], 'type', ARGV[6], 'createdAt', created_at, 'lastSeq', 0,
  'lastActivityAt', created_at, 'memberCount', #fresh, 'joinSeq', #fresh, 'ownerCount', owners)
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[1], 'title', ARGV[8])
end
local meta = redis.call('HGETALL', KEYS[1])
local event_id = append_event(log, created_at, conversation_event('conversation.created', meta, ARGV[4]))
for joined, entry in ipairs(fresh) do
  local member = cjson.encode({ role = entry[2], lastReadSeq = 0, joinedAt = tonumber(created_at), joinedEventId = event_id })
  redis.call('HSET', KEYS[2], entry[1], member)
  redis.call('ZADD', KEYS[3], joined, entry[1])
end
return {1, meta, event_id}
