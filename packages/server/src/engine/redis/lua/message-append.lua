--[[
message-append: the one atomic step of sending. Checks that the conversation exists and the
sender is a member, not blocked by the other member of a direct conversation and not muted at
createdAt, resolves the idempotency key, checks the reply target, assigns
seq = lastSeq + 1, stores the message, moves lastActivityAt (never backwards) and the sender's
read position, and logs message.created. Refusals and duplicates write and log nothing, so a
refused send does not spend its idempotency key.
The idempotency window is measured on the given times (the key holds "<seq>:<expiresAt>"), like
every other time in the engine; the key's own expiry (PX) only reclaims memory.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] messages hash   KEYS[4] message-ids hash
KEYS[5]  my-reactions hash   KEYS[6] events stream   KEYS[7] topic channel
KEYS[8]  mutes hash
KEYS[9]  idempotency key of (sender or the system scope, clientMessageId); absent when the send has none
KEYS[last] with ARGV[14]: the sender's SEND rate-limit key (another slot: never on Cluster)
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), with webhook routing off Cluster (lib/event-log.lua)
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  messageId   ARGV[5] senderId ('' for a message without sender)   ARGV[6] system '1'|'0'
ARGV[7]  text   ARGV[8] replyTo ('' for none)   ARGV[9] createdAt   ARGV[10] idempotency TTL in ms
ARGV[11] end of the idempotency window (createdAt + TTL)
ARGV[12] '' or, after a 'block_unknown' answer, '1' when the other member blocks the sender, else '0'
ARGV[13] '' (Cluster) or the key prefix of the tenant's blocks sets: off Cluster the script reads the
         other member's set itself (a key it cannot declare, since the other member is found here;
         allowed without Cluster, like the rate-limit key). On Cluster a direct send answers
         'block_unknown' and the caller reads the set (another slot), then calls again with ARGV[12].
ARGV[14] '' or the rate limit's interval (ms), to count one unit first (lib/gcra.lua)
ARGV[15] the rate limit's capacity (ms)   ARGV[16] now (epoch ms) for the rate limit
Returns  {'created', message JSON, nil, lastActivityAt}
         | {'duplicate', original message JSON, sender's emoji JSON | nil}
         | {'conversation_not_found'} | {'not_member'} | {'blocked'} | {'muted'} | {'reply_not_found'}
         | {'block_unknown', other member's userId} (Cluster, direct conversation, ARGV[12] '': call
           again with ARGV[12] read from the other member's blocks set; nothing changed)
         | {'id_taken'} (the message id is in use: a caller bug; nothing changed)
         With ARGV[14]: {one of those, {allowed, remaining, resetMs, retryAfterMs}}, the unit
         counted first (and kept whatever the append answers), or {{'rate_limited'}, decision}
         when the limit refused: nothing counted, nothing changed.
]]
--#include event-log
--#include mute
--#include gcra
local rate_limited = ARGV[14] ~= ''
local key_count = #KEYS
if rate_limited then
  key_count = key_count - 1
end
local idempotency_key = key_count >= 9 and KEYS[9] or nil

-- The blocks set of a user, named as redis-keys.ts names it (the id encoded like encodeURIComponent).
local function blocks_key(user)
  return ARGV[13] .. string.gsub(user, "[^%w%-_%.!~%*'%(%)]", function(c)
    return string.format('%%%02X', string.byte(c))
  end)
end

local function append()
  if redis.call('EXISTS', KEYS[1]) == 0 then
    return {'conversation_not_found'}
  end
  local sender = ARGV[5]
  local member = nil
  if sender ~= '' then
    local raw = redis.call('HGET', KEYS[2], sender)
    if not raw then
      return {'not_member'}
    end
    member = cjson.decode(raw)
    if redis.call('HGET', KEYS[1], 'type') == 'direct' then
      for _, other in ipairs(redis.call('HKEYS', KEYS[2])) do
        if other ~= sender then
          local blocked
          if ARGV[12] ~= '' then
            blocked = ARGV[12] == '1'
          elseif ARGV[13] ~= '' then
            blocked = redis.call('SISMEMBER', blocks_key(other), sender) == 1
          else
            return {'block_unknown', other}
          end
          if blocked then
            return {'blocked'}
          end
        end
      end
    end
  end
  if is_muted(KEYS[8], sender, ARGV[9]) then
    return {'muted'}
  end
  if idempotency_key then
    local prior = redis.call('GET', idempotency_key)
    if prior then
      local prior_seq, expires_at = string.match(prior, '^(%d+):(%d+)$')
      if prior_seq and tonumber(ARGV[9]) < tonumber(expires_at) then
        local mine = false
        if sender ~= '' then
          mine = redis.call('HGET', KEYS[5], prior_seq .. ':' .. sender)
        end
        return {'duplicate', redis.call('HGET', KEYS[3], prior_seq), mine}
      end
    end
  end
  local reply_to = ARGV[8]
  if reply_to ~= '' and redis.call('HEXISTS', KEYS[4], reply_to) == 0 then
    return {'reply_not_found'}
  end
  if redis.call('HEXISTS', KEYS[4], ARGV[4]) == 1 then
    return {'id_taken'}
  end

  local seq = redis.call('HINCRBY', KEYS[1], 'lastSeq', 1)
  local created_at = tonumber(ARGV[9])
  local message = cjson.encode({
    id = ARGV[4],
    seq = seq,
    senderId = (sender ~= '' and sender) or cjson.null,
    system = ARGV[6] == '1',
    text = ARGV[7],
    createdAt = created_at,
    editedAt = cjson.null,
    deletedAt = cjson.null,
    replyTo = (reply_to ~= '' and reply_to) or cjson.null,
    reactions = {},
  })
  redis.call('HSET', KEYS[3], seq, message)
  redis.call('HSET', KEYS[4], ARGV[4], seq)
  if created_at > tonumber(redis.call('HGET', KEYS[1], 'lastActivityAt')) then
    redis.call('HSET', KEYS[1], 'lastActivityAt', ARGV[9])
  end
  if member then
    member.lastReadSeq = seq
    redis.call('HSET', KEYS[2], sender, cjson.encode(member))
  end
  if idempotency_key then
    redis.call('SET', idempotency_key, seq .. ':' .. ARGV[11], 'PX', ARGV[10])
  end
  local log = event_log(KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3])
  append_event(log, ARGV[9], message_event('message.created', redis.call('HGET', KEYS[1], 'id'), message))
  return {'created', message, false, redis.call('HGET', KEYS[1], 'lastActivityAt')}
end

if not rate_limited then
  return append()
end
local decision = gcra_consume(KEYS[#KEYS], ARGV[14], ARGV[15], ARGV[16])
if decision[1] == 0 then
  return {{'rate_limited'}, decision}
end
return {append(), decision}
