--[[
webhook-outbox-ack: the relay queued these outbox entries: deletes them, and the outbox itself when
that leaves it empty (an empty stream would otherwise stay, one per slot ever used). One step, so
an entry a logging script appends meanwhile is never deleted with the stream.
KEYS[1]  the outbox stream
ARGV     the entry ids
Returns  the entries left
]]
redis.call('XDEL', KEYS[1], unpack(ARGV))
local left = redis.call('XLEN', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1])
end
return left
