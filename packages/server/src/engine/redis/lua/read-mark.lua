--[[
read-mark: moves a member's read position forward, clamped to the conversation's lastSeq, and
logs `read` when it moved. Monotonic: a lower seq than the stored one changes nothing.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] events stream   KEYS[4] topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  userId   ARGV[5] seq   ARGV[6] now
Returns  {lastReadSeq, changed 1|0}, or false when not a member
]]
--#include event-log
local raw = redis.call('HGET', KEYS[2], ARGV[4])
if not raw then
  return false
end
local member = cjson.decode(raw)
local last_seq = tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0')
local target = math.min(tonumber(ARGV[5]), last_seq)
if target > member.lastReadSeq then
  member.lastReadSeq = target
  redis.call('HSET', KEYS[2], ARGV[4], cjson.encode(member))
  local log = event_log(KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
  append_event(log, ARGV[6], read_event(redis.call('HGET', KEYS[1], 'id'), ARGV[4], target))
  return {target, 1}
end
return {member.lastReadSeq, 0}
