--[[
message-delete: tombstones a message: text null, deletedAt set, reactions cleared (counts and
every user's record); the seq stays in history. Idempotent: a deleted message is returned as is.
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
KEYS[4]  reactors set of the message's seq
ARGV[1]  messageId   ARGV[2] the message's seq (looked up by the caller; ids never move)   ARGV[3] now
Returns  the message JSON after the call, or false when absent
]]
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if seq ~= ARGV[2] then
  return false
end
local raw = redis.call('HGET', KEYS[2], seq)
local message = cjson.decode(raw)
if message.deletedAt ~= cjson.null then
  return raw
end
for _, user in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('HDEL', KEYS[3], seq .. ':' .. user)
end
redis.call('DEL', KEYS[4])
message.text = cjson.null
message.deletedAt = tonumber(ARGV[3])
message.reactions = {}
local encoded = cjson.encode(message)
redis.call('HSET', KEYS[2], seq, encoded)
return encoded
