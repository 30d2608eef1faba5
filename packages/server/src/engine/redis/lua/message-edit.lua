--[[
message-edit: replaces a message's text and sets editedAt, unless the message is deleted.
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
ARGV[1]  messageId   ARGV[2] text   ARGV[3] now   ARGV[4] viewer userId ('' for none)
Returns  {'ok', message JSON, viewer's emoji JSON | nil} | {'not_found'} | {'deleted'}
]]
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then
  return {'not_found'}
end
local message = cjson.decode(redis.call('HGET', KEYS[2], seq))
if message.deletedAt ~= cjson.null then
  return {'deleted'}
end
message.text = ARGV[2]
message.editedAt = tonumber(ARGV[3])
local encoded = cjson.encode(message)
redis.call('HSET', KEYS[2], seq, encoded)
local mine = false
if ARGV[4] ~= '' then
  mine = redis.call('HGET', KEYS[3], seq .. ':' .. ARGV[4])
end
return {'ok', encoded, mine}
