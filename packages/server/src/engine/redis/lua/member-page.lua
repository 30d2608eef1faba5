--[[
member-page: members in join order, read in one step.
KEYS[1]  member-order zset   KEYS[2] members hash
ARGV[1]  join sequence to start after (0 for the first page)   ARGV[2] how many at most
Returns  {userId1, joinSeq1, member JSON1, userId2, ...}
]]
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local page = {}
for i = 1, #entries, 2 do
  page[#page + 1] = entries[i]
  page[#page + 1] = entries[i + 1]
  page[#page + 1] = redis.call('HGET', KEYS[2], entries[i])
end
return page
