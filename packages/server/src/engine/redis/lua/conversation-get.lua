--[[
conversation-get: a conversation read in one step with one user's standing (membership, mute,
and in a direct conversation the other member) and, optionally, its newest message with that
user's reactions on it.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] messages hash   KEYS[4] my-reactions hash
KEYS[5]  mutes hash
ARGV[1]  userId ('' for none)   ARGV[2] '1' to include the newest message
Returns  false when the conversation is absent, else
         {meta as HGETALL, member JSON | nil, newest message JSON | nil, user's emoji JSON | nil,
          mute JSON | nil, other member's userId | nil (groups: nil)}
]]
local meta = redis.call('HGETALL', KEYS[1])
if #meta == 0 then
  return false
end
local user = ARGV[1]
local member, mute, other = false, false, false
if user ~= '' then
  member = redis.call('HGET', KEYS[2], user)
  mute = redis.call('HGET', KEYS[5], user)
  if redis.call('HGET', KEYS[1], 'type') == 'direct' then
    for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
      if id ~= user then
        other = id
      end
    end
  end
end
local last, mine = false, false
if ARGV[2] == '1' then
  local last_seq = redis.call('HGET', KEYS[1], 'lastSeq')
  if last_seq ~= '0' then
    last = redis.call('HGET', KEYS[3], last_seq)
    if user ~= '' then
      mine = redis.call('HGET', KEYS[4], last_seq .. ':' .. user)
    end
  end
end
return {meta, member, last, mine, mute, other}
