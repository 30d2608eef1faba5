--[[
moderation-set: stores or lifts one user's entry in a conversation's mutes or bans (a hash of
userId → JSON, with a zset of the same user ids at score 0 that pages them in id order). With
the members hash and a role bound, a member whose role now is above the bound is refused before
anything is written (the caller's check of their role may be stale).
KEYS[1]  meta hash   KEYS[2] entries hash (mutes or bans)   KEYS[3] order zset of that hash
KEYS[4]  members hash (only with a role bound)
ARGV[1]  userId   ARGV[2] entry JSON ('' lifts the entry)
ARGV[3]  highest role the member may have ('owner' | 'admin' | 'member'; only with KEYS[4])
Returns  1 | 0 when the conversation is absent (nothing written)
         | 'role_changed' (the member's role is above ARGV[3]; nothing written)
]]
--#include role
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if KEYS[4] then
  local raw = redis.call('HGET', KEYS[4], ARGV[1])
  if raw and not role_within(cjson.decode(raw).role, ARGV[3]) then
    return 'role_changed'
  end
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
return 1
