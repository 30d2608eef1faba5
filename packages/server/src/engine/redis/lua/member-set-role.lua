--[[
member-set-role: changes one member's role, logging member.updated when it changed. With
keepOwner, refuses to demote the only owner of a group (meta ownerCount, read and changed in
this same step).
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] events stream   KEYS[4] topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  userId   ARGV[5] role   ARGV[6] now   ARGV[7] '1' to keep an owner
Returns  {'ok', member JSON after the call} | {'not_found'} | {'last_owner'}
]]
--#include event-log
local raw = redis.call('HGET', KEYS[2], ARGV[4])
if not raw or redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local member = cjson.decode(raw)
local before, after = member.role, ARGV[5]
if before == after then
  return {'ok', raw}
end
if before == 'owner' then
  if ARGV[7] == '1' and redis.call('HGET', KEYS[1], 'type') == 'group'
    and tonumber(redis.call('HGET', KEYS[1], 'ownerCount') or '0') <= 1 then
    return {'last_owner'}
  end
  redis.call('HINCRBY', KEYS[1], 'ownerCount', -1)
elseif after == 'owner' then
  redis.call('HINCRBY', KEYS[1], 'ownerCount', 1)
end
member.role = after
local updated = cjson.encode(member)
redis.call('HSET', KEYS[2], ARGV[4], updated)
local log = event_log(KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
append_event(log, ARGV[6], member_event('member.updated', redis.call('HGET', KEYS[1], 'id'), ARGV[4], after))
return {'ok', updated}
