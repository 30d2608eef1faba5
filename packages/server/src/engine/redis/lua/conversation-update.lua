--[[
conversation-update: changes the given fields of an existing conversation and logs
conversation.updated when something changed.
KEYS[1]  meta hash   KEYS[2] events stream   KEYS[3] topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  tenantId   ARGV[5] '1' when a title is given   ARGV[6] title   ARGV[7] now
Returns  meta as HGETALL, or false when the conversation is absent
]]
--#include event-log
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local changed = false
if ARGV[5] == '1' and redis.call('HGET', KEYS[1], 'title') ~= ARGV[6] then
  redis.call('HSET', KEYS[1], 'title', ARGV[6])
  changed = true
end
local meta = redis.call('HGETALL', KEYS[1])
if changed then
  local log = event_log(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
  append_event(log, ARGV[7], conversation_event('conversation.updated', meta, ARGV[4]))
end
return meta
