--[[
member-remove: removes one membership and logs member.removed (with the role it had). A group
keeps an owner while it has members: when the only owner goes, the longest-standing admin (else
the longest-standing member, by member-order) becomes owner, logging member.updated, in this same
step; the owner count (meta ownerCount) is read and changed here, so owners leaving at once all
go and exactly the last one hands over. With a ban record, also records the ban (first ban wins),
whether or not the user is a member. With a role bound, a member whose role now is above it is
refused before anything is written (the caller's check of their role may be stale).
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset   KEYS[4] events stream
KEYS[5]  topic channel   KEYS[6] bans hash (only with a ban)   KEYS[7] ban-order zset (only with a ban)
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  userId   ARGV[5] now   ARGV[6] ban JSON {createdAt} ('' or absent: no ban)
ARGV[7]  highest role the member may have ('owner' | 'admin' | 'member'; '' or absent: any)
Returns  'not_found' (no conversation, or not a member and no ban) | {'removed', role} | {'not_member'} (banned only)
         | 'role_changed' (the member's role is above ARGV[7]; nothing written)
]]
--#include event-log
--#include role
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'not_found'
end
local user = ARGV[4]
local ban = ARGV[6] or ''
local raw = redis.call('HGET', KEYS[2], user)
if raw and not role_within(cjson.decode(raw).role, ARGV[7] or '') then
  return 'role_changed'
end
if ban ~= '' then
  if redis.call('HSETNX', KEYS[6], user, ban) == 1 then
    redis.call('ZADD', KEYS[7], 0, user)
  end
end
if not raw then
  if ban ~= '' then
    return {'not_member'}
  end
  return 'not_found'
end
local role = cjson.decode(raw).role
redis.call('HDEL', KEYS[2], user)
redis.call('ZREM', KEYS[3], user)
local members_left = redis.call('HINCRBY', KEYS[1], 'memberCount', -1)
local owners_left = 1
if role == 'owner' then
  owners_left = redis.call('HINCRBY', KEYS[1], 'ownerCount', -1)
end
local conversation_id = redis.call('HGET', KEYS[1], 'id')
local log = event_log(KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3])
append_event(log, ARGV[5], member_event('member.removed', conversation_id, user, role))
if owners_left <= 0 and members_left > 0 and redis.call('HGET', KEYS[1], 'type') == 'group' then
  -- Join order, oldest first: the first admin met wins, else the first member.
  local successor, successor_record = nil, nil
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local record = cjson.decode(redis.call('HGET', KEYS[2], id))
    if record.role == 'admin' then
      successor, successor_record = id, record
      break
    end
    if not successor then
      successor, successor_record = id, record
    end
  end
  if successor then
    successor_record.role = 'owner'
    redis.call('HSET', KEYS[2], successor, cjson.encode(successor_record))
    redis.call('HINCRBY', KEYS[1], 'ownerCount', 1)
    append_event(log, ARGV[5], member_event('member.updated', conversation_id, successor, 'owner'))
  end
end
return {'removed', role}
