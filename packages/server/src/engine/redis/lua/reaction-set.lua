--[[
reaction-set: adds or removes one user's reaction, idempotently and within the limits, and logs
reaction.added or reaction.removed when something changed; a user muted at now changes nothing. Counts
live in the message JSON; each user's emoji in my-reactions ("<seq>:<userId>", never an empty
list), and the users with any reaction in the message's reactors set (so delete can clear them).
KEYS[1]  message-ids hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
KEYS[4]  reactors set of the message's seq   KEYS[5] events stream   KEYS[6] topic channel
KEYS[7]  mutes hash
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  conversationId   ARGV[5] messageId
ARGV[6]  the message's seq (looked up by the caller; ids never move)
ARGV[7]  userId   ARGV[8] emoji   ARGV[9] '1' add | '0' remove
ARGV[10] max distinct emoji per message   ARGV[11] max reactions per user per message   ARGV[12] now
Returns  {'ok', changed 1|0, message JSON, the user's emoji JSON | nil}
         | {'not_found'} | {'deleted'} | {'too_many_reactions'} | {'muted'}
]]
--#include event-log
--#include mute
local seq = redis.call('HGET', KEYS[1], ARGV[5])
if seq ~= ARGV[6] then
  return {'not_found'}
end
local raw = redis.call('HGET', KEYS[2], seq)
local message = cjson.decode(raw)
if message.deletedAt ~= cjson.null then
  return {'deleted'}
end
if is_muted(KEYS[7], ARGV[7], ARGV[12]) then
  return {'muted'}
end
local user, emoji, add = ARGV[7], ARGV[8], ARGV[9] == '1'
local field = seq .. ':' .. user
local stored = redis.call('HGET', KEYS[3], field)
local mine = {}
if stored then
  mine = cjson.decode(stored)
end
local position = nil
for i, existing in ipairs(mine) do
  if existing == emoji then
    position = i
  end
end
if (add and position) or (not add and not position) then
  return {'ok', 0, raw, stored}
end

local counts = message.reactions
if add then
  if #mine >= tonumber(ARGV[11]) then
    return {'too_many_reactions'}
  end
  if not counts[emoji] then
    local distinct = 0
    for _ in pairs(counts) do
      distinct = distinct + 1
    end
    if distinct >= tonumber(ARGV[10]) then
      return {'too_many_reactions'}
    end
  end
  counts[emoji] = (counts[emoji] or 0) + 1
  mine[#mine + 1] = emoji
else
  counts[emoji] = counts[emoji] - 1
  if counts[emoji] <= 0 then
    counts[emoji] = nil
  end
  table.remove(mine, position)
end

local encoded = cjson.encode(message)
redis.call('HSET', KEYS[2], seq, encoded)
local mine_json = false
if #mine == 0 then
  redis.call('HDEL', KEYS[3], field)
  redis.call('SREM', KEYS[4], user)
else
  mine_json = cjson.encode(mine)
  redis.call('HSET', KEYS[3], field, mine_json)
  redis.call('SADD', KEYS[4], user)
end
local log = event_log(KEYS[5], KEYS[6], ARGV[1], ARGV[2], ARGV[3])
local event_type = 'reaction.removed'
if add then
  event_type = 'reaction.added'
end
append_event(log, ARGV[12], reaction_event(event_type, ARGV[4], ARGV[5], emoji, user))
return {'ok', 1, encoded, mine_json}
