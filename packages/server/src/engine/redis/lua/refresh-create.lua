--[[
refresh-create: stores a refresh-token family at generation 0, expiring on its own.
KEYS[1]  family hash
ARGV[1]  userId   ARGV[2] secretHash   ARGV[3] expiresAt (epoch ms; also the key's expiry instant)
Returns  'OK'
]]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'userId', ARGV[1], 'generation', 0, 'secretHash', ARGV[2], 'expiresAt', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 'OK'
