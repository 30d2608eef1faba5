--[[
message-delete: tombstones a message: text null, deletedAt set, reactions cleared (counts and
every user's record); the seq stays in history. Logs message.deleted. Idempotent: a deleted
message is returned as is and nothing is logged.
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
KEYS[4]  reactors set of the message's seq   KEYS[5] events stream   KEYS[6] topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  conversationId   ARGV[5] messageId
ARGV[6]  the message's seq (looked up by the caller; ids never move)   ARGV[7] now
Returns  the message JSON after the call, or false when absent
]]
--#include event-log
local seq = redis.call('HGET', KEYS[1], ARGV[5])
if seq ~= ARGV[6] then
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
message.deletedAt = tonumber(ARGV[7])
message.reactions = {}
local encoded = cjson.encode(message)
redis.call('HSET', KEYS[2], seq, encoded)
local log = event_log(KEYS[5], KEYS[6], ARGV[1], ARGV[2], ARGV[3])
append_event(log, ARGV[7], message_event('message.deleted', ARGV[4], encoded))
return encoded
