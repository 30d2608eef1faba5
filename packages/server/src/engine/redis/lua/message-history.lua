--[[
message-history: one page of messages in ascending seq, read in one step. Seqs are gapless, so
the page is a computed range read with one HMGET, and the viewer's reactions with another.
KEYS[1]  meta hash   KEYS[2] messages hash   KEYS[3] my-reactions hash
ARGV[1]  'latest' | 'before' | 'after'   ARGV[2] the bound seq (ignored for 'latest')
ARGV[3]  limit   ARGV[4] viewer userId ('' for none)
Returns  {hasMore 1|0, {message JSON...}, {viewer's emoji JSON | nil, ...}}
]]
local last_seq = tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0')
local limit = tonumber(ARGV[3])
local low, high, has_more
if ARGV[1] == 'after' then
  low = math.max(tonumber(ARGV[2]) + 1, 1)
  high = math.min(last_seq, low + limit - 1)
  has_more = high < last_seq
else
  high = last_seq
  if ARGV[1] == 'before' then
    high = math.min(tonumber(ARGV[2]) - 1, last_seq)
  end
  low = math.max(high - limit + 1, 1)
  has_more = low > 1
end
if high < low then
  return {0, {}, {}}
end
local seqs, fields = {}, {}
for seq = low, high do
  seqs[#seqs + 1] = seq
  fields[#fields + 1] = seq .. ':' .. ARGV[4]
end
local messages = redis.call('HMGET', KEYS[2], unpack(seqs))
local mine = {}
if ARGV[4] ~= '' then
  mine = redis.call('HMGET', KEYS[3], unpack(fields))
end
return {has_more and 1 or 0, messages, mine}
