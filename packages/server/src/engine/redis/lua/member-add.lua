--[[
member-add: adds users as members with one role, all or nothing. Existing members are left as
they are; when the new total would exceed the cap nothing is added.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] member-order zset
ARGV[1]  role   ARGV[2] joinedAt   ARGV[3] maxMembers   ARGV[4..] userIds (may repeat)
Returns  {'not_found'} | {'too_many_members'} | {'ok', {added userIds in input order}, meta as HGETALL}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local fresh, seen = {}, {}
for i = 4, #ARGV do
  local user = ARGV[i]
  if not seen[user] then
    seen[user] = true
    if redis.call('HEXISTS', KEYS[2], user) == 0 then
      fresh[#fresh + 1] = user
    end
  end
end
local count = tonumber(redis.call('HGET', KEYS[1], 'memberCount'))
if count + #fresh > tonumber(ARGV[3]) then
  return {'too_many_members'}
end
local member = cjson.encode({ role = ARGV[1], lastReadSeq = 0, joinedAt = tonumber(ARGV[2]) })
for _, user in ipairs(fresh) do
  local join_seq = redis.call('HINCRBY', KEYS[1], 'joinSeq', 1)
  redis.call('HSET', KEYS[2], user, member)
  redis.call('ZADD', KEYS[3], join_seq, user)
end
redis.call('HINCRBY', KEYS[1], 'memberCount', #fresh)
return {'ok', fresh, redis.call('HGETALL', KEYS[1])}
