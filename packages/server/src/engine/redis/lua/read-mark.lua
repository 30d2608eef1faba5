--[[
read-mark: moves a member's read position forward, clamped to the conversation's lastSeq.
Monotonic: a lower seq than the stored one changes nothing.
KEYS[1]  meta hash   KEYS[2] members hash
ARGV[1]  userId   ARGV[2] seq
Returns  {lastReadSeq, changed 1|0}, or false when not a member
]]
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return false
end
local member = cjson.decode(raw)
local last_seq = tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0')
local target = math.min(tonumber(ARGV[2]), last_seq)
if target > member.lastReadSeq then
  member.lastReadSeq = target
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(member))
  return {target, 1}
end
return {member.lastReadSeq, 0}
