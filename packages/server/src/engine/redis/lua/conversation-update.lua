--[[
conversation-update: changes the given fields of an existing conversation.
KEYS[1]  meta hash
ARGV[1]  '1' when a title is given   ARGV[2] title
Returns  meta as HGETALL, or false when the conversation is absent
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'title', ARGV[2])
end
return redis.call('HGETALL', KEYS[1])
