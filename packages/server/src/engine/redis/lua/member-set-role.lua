--[[
member-set-role: changes one member's role.
KEYS[1]  members hash
ARGV[1]  userId   ARGV[2] role
Returns  the member JSON after the change, or false when not a member
]]
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return false
end
local member = cjson.decode(raw)
member.role = ARGV[2]
local updated = cjson.encode(member)
redis.call('HSET', KEYS[1], ARGV[1], updated)
return updated
