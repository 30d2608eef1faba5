--[[
message-edit: replaces a message's text and sets editedAt, unless the message is deleted or the
editor (the viewer) is muted at now, and logs message.updated.
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
KEYS[4]  events stream   KEYS[5] topic channel   KEYS[6] mutes hash
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  conversationId   ARGV[5] messageId   ARGV[6] text   ARGV[7] now
ARGV[8]  viewer userId ('' for none)
Returns  {'ok', message JSON, viewer's emoji JSON | nil} | {'not_found'} | {'deleted'} | {'muted'}
]]
--#include event-log
--#include mute
local seq = redis.call('HGET', KEYS[1], ARGV[5])
if not seq then
  return {'not_found'}
end
local message = cjson.decode(redis.call('HGET', KEYS[2], seq))
if message.deletedAt ~= cjson.null then
  return {'deleted'}
end
if is_muted(KEYS[6], ARGV[8], ARGV[7]) then
  return {'muted'}
end
message.text = ARGV[6]
message.editedAt = tonumber(ARGV[7])
local encoded = cjson.encode(message)
redis.call('HSET', KEYS[2], seq, encoded)
local log = event_log(KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3])
append_event(log, ARGV[7], message_event('message.updated', ARGV[4], encoded))
local mine = false
if ARGV[8] ~= '' then
  mine = redis.call('HGET', KEYS[3], seq .. ':' .. ARGV[8])
end
return {'ok', encoded, mine}
