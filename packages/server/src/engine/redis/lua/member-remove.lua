--[[
member-remove: removes one membership and logs member.removed (with the role it had). With
keepOwner, refuses to remove the only owner of a group; the owner count (meta ownerCount)
is read and changed in this same step, so two owners leaving at once cannot both go.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset   KEYS[4] events stream
KEYS[5]  topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH')   ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  userId   ARGV[5] now   ARGV[6] '1' to keep an owner
Returns  'removed' | 'not_found' | 'last_owner'
]]
--#include event-log
local raw = redis.call('HGET', KEYS[2], ARGV[4])
if not raw or redis.call('EXISTS', KEYS[1]) == 0 then
  return 'not_found'
end
local role = cjson.decode(raw).role
if role == 'owner' then
  if ARGV[6] == '1' and redis.call('HGET', KEYS[1], 'type') == 'group'
    and tonumber(redis.call('HGET', KEYS[1], 'ownerCount') or '0') <= 1 then
    return 'last_owner'
  end
  redis.call('HINCRBY', KEYS[1], 'ownerCount', -1)
end
redis.call('HDEL', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('HINCRBY', KEYS[1], 'memberCount', -1)
local log = event_log(KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3])
append_event(log, ARGV[5], member_event('member.removed', redis.call('HGET', KEYS[1], 'id'), ARGV[4], role))
return 'removed'
