--[[
message-append: the one atomic step of sending. Checks that the conversation exists and the
sender is a member, resolves the idempotency key, checks the reply target, assigns
seq = lastSeq + 1, stores the message, moves lastActivityAt (never backwards) and the sender's
read position. Refusals write nothing, so a refused send does not spend its idempotency key.
The idempotency window is measured on the given times (the key holds "<seq>:<expiresAt>"), like
every other time in the engine; the key's own expiry (PX) only reclaims memory.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] messages hash   KEYS[4] message-ids hash
KEYS[5]  my-reactions hash
KEYS[6]  idempotency key of (sender, clientMessageId); absent when the send has none
ARGV[1]  messageId   ARGV[2] senderId ('' for a system message)   ARGV[3] system '1'|'0'
ARGV[4]  text   ARGV[5] replyTo ('' for none)   ARGV[6] createdAt   ARGV[7] idempotency TTL in ms
ARGV[8]  end of the idempotency window (createdAt + TTL)
Returns  {'created', message JSON, nil, lastActivityAt}
         | {'duplicate', original message JSON, sender's emoji JSON | nil}
         | {'conversation_not_found'} | {'not_member'} | {'reply_not_found'}
         | {'id_taken'} (the message id is in use: a caller bug; nothing changed)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'conversation_not_found'}
end
local sender = ARGV[2]
local member = nil
if sender ~= '' then
  local raw = redis.call('HGET', KEYS[2], sender)
  if not raw then
    return {'not_member'}
  end
  member = cjson.decode(raw)
end
local idempotency_key = KEYS[6]
if idempotency_key then
  local prior = redis.call('GET', idempotency_key)
  if prior then
    local prior_seq, expires_at = string.match(prior, '^(%d+):(%d+)$')
    if prior_seq and tonumber(ARGV[6]) < tonumber(expires_at) then
      return {'duplicate', redis.call('HGET', KEYS[3], prior_seq), redis.call('HGET', KEYS[5], prior_seq .. ':' .. sender)}
    end
  end
end
local reply_to = ARGV[5]
if reply_to ~= '' and redis.call('HEXISTS', KEYS[4], reply_to) == 0 then
  return {'reply_not_found'}
end
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return {'id_taken'}
end

local seq = redis.call('HINCRBY', KEYS[1], 'lastSeq', 1)
local created_at = tonumber(ARGV[6])
local message = cjson.encode({
  id = ARGV[1],
  seq = seq,
  senderId = (sender ~= '' and sender) or cjson.null,
  system = ARGV[3] == '1',
  text = ARGV[4],
  createdAt = created_at,
  editedAt = cjson.null,
  deletedAt = cjson.null,
  replyTo = (reply_to ~= '' and reply_to) or cjson.null,
  reactions = {},
})
redis.call('HSET', KEYS[3], seq, message)
redis.call('HSET', KEYS[4], ARGV[1], seq)
if created_at > tonumber(redis.call('HGET', KEYS[1], 'lastActivityAt')) then
  redis.call('HSET', KEYS[1], 'lastActivityAt', ARGV[6])
end
if member then
  member.lastReadSeq = seq
  redis.call('HSET', KEYS[2], sender, cjson.encode(member))
end
if idempotency_key then
  redis.call('SET', idempotency_key, seq .. ':' .. ARGV[8], 'PX', ARGV[7])
end
return {'created', message, false, redis.call('HGET', KEYS[1], 'lastActivityAt')}
