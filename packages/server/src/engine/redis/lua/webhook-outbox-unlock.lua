--[[
webhook-outbox-unlock: releases an outbox's relay lock if `owner` still holds it (a lock that
expired and was taken by another relay is left to it).
KEYS[1]  the lock   ARGV[1] owner
Returns  1 released, 0 not held by owner
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
