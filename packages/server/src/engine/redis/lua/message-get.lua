--[[
message-get: one message by id with the viewer's reactions on it.
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
ARGV[1]  messageId   ARGV[2] viewer userId ('' for none)
Returns  {message JSON, viewer's emoji JSON | nil}, or false when absent
]]
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then
  return false
end
local mine = false
if ARGV[2] ~= '' then
  mine = redis.call('HGET', KEYS[3], seq .. ':' .. ARGV[2])
end
return {redis.call('HGET', KEYS[2], seq), mine}
