--[[
conversation-get: a conversation read in one step with one user's membership and, optionally,
its newest message with that user's reactions on it.
KEYS[1]  meta hash   KEYS[2] members hash   KEYS[3] messages hash   KEYS[4] my-reactions hash
ARGV[1]  userId ('' for none)   ARGV[2] '1' to include the newest message
Returns  false when the conversation is absent, else
         {meta as HGETALL, member JSON | nil, newest message JSON | nil, user's emoji JSON | nil}
]]
local meta = redis.call('HGETALL', KEYS[1])
if #meta == 0 then
  return false
end
local user = ARGV[1]
local member = false
if user ~= '' then
  member = redis.call('HGET', KEYS[2], user)
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
return {meta, member, last, mine}
