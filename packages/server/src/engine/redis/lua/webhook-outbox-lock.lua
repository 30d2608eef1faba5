--[[
webhook-outbox-lock: renews or releases an outbox's relay lock, if `owner` still holds it (a lock
that expired and was taken by another relay is left to it).
KEYS[1]  the lock   ARGV[1] owner   ARGV[2] 'renew' | 'release'   ARGV[3] (renew) new expiry in ms
Returns  1 done, 0 not held by owner
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'renew' then
  return redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('DEL', KEYS[1])
