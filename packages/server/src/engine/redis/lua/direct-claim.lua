--[[
direct-claim: maps an unordered pair of users to the id of their one direct conversation, first
writer wins, and indexes it for both users. The conversation itself is created afterwards (in its
own slot) by conversation-create, which is idempotent, so a claim whose creator died is finished
by the next caller.
KEYS[1]  direct-pairs hash of the tenant (pair -> conversationId)
KEYS[2]  conversation activity zset of the tenant
KEYS[3]  first user's conversation set   KEYS[4] second user's conversation set
ARGV[1]  pair field   ARGV[2] candidate conversationId   ARGV[3] createdAt of the candidate
Returns  the conversationId the pair maps to
]]
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local id = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], id)
redis.call('SADD', KEYS[3], id)
redis.call('SADD', KEYS[4], id)
return id
