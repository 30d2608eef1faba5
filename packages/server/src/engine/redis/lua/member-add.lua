--[[
member-add: adds users as members with one role, all or nothing, logging member.added for each
added user in input order. Existing members are left as they are; when the new total would
exceed the cap, or one of the users is banned from the conversation, nothing is added. A new member's read position starts at the conversation's
lastSeq (history from before joining is not unread).
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset   KEYS[4] events stream
KEYS[5]  topic channel   KEYS[6] bans hash
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  role   ARGV[5] joinedAt   ARGV[6] maxMembers   ARGV[7..] userIds (may repeat)
Returns  {'not_found'} | {'too_many_members'} | {'banned', first banned userId} | {'ok', {added userIds in input order}, meta as HGETALL}
]]
--#include event-log
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local fresh, seen = {}, {}
for i = 7, #ARGV do
  local user = ARGV[i]
  if not seen[user] then
    seen[user] = true
    if redis.call('HEXISTS', KEYS[2], user) == 0 then
      if redis.call('HEXISTS', KEYS[6], user) == 1 then
        return {'banned', user}
      end
      fresh[#fresh + 1] = user
    end
  end
end
local count = tonumber(redis.call('HGET', KEYS[1], 'memberCount'))
if count + #fresh > tonumber(ARGV[6]) then
  return {'too_many_members'}
end
local log = event_log(KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3])
local role, joined_at = ARGV[4], ARGV[5]
local conversation_id = redis.call('HGET', KEYS[1], 'id')
local last_seq = tonumber(redis.call('HGET', KEYS[1], 'lastSeq'))
redis.call('HINCRBY', KEYS[1], 'memberCount', #fresh)
if role == 'owner' then
  redis.call('HINCRBY', KEYS[1], 'ownerCount', #fresh)
end
for _, user in ipairs(fresh) do
  local event_id = append_event(log, joined_at, member_event('member.added', conversation_id, user, role))
  local join_seq = redis.call('HINCRBY', KEYS[1], 'joinSeq', 1)
  redis.call('HSET', KEYS[2], user, cjson.encode({ role = role, lastReadSeq = last_seq, joinedAt = tonumber(joined_at), joinedEventId = event_id }))
  redis.call('ZADD', KEYS[3], join_seq, user)
end
return {'ok', fresh, redis.call('HGETALL', KEYS[1])}
