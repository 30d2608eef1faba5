--[[
user-conversations-page: one page of a user's conversation ids, most recent activity first,
ties broken by the higher id. Intersects the user's set with the tenant's activity zset inside
Redis (O(n log n) in the user's conversations) and walks it from the newest end.
KEYS[1]  the user's conversation set   KEYS[2] conversation activity zset of the tenant
ARGV[1]  '1' when a cursor is given    ARGV[2] cursor activity   ARGV[3] cursor conversationId
ARGV[4]  how many entries to return at most
Returns  {id1, activity1, id2, activity2, ...} strictly after the cursor in that order
]]
-- Bytewise comparison, the order Redis itself gives equal scores (Lua's '<' follows the locale).
local function bytes_before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local entries = redis.call('ZINTER', 2, KEYS[1], KEYS[2], 'WEIGHTS', 0, 1, 'WITHSCORES')
local has_cursor = ARGV[1] == '1'
local cursor_score = tonumber(ARGV[2])
local cursor_id = ARGV[3]
local want = tonumber(ARGV[4])
local page = {}
for i = #entries - 1, 1, -2 do
  local id, score = entries[i], entries[i + 1]
  local value = tonumber(score)
  if not has_cursor or value < cursor_score or (value == cursor_score and bytes_before(id, cursor_id)) then
    page[#page + 1] = id
    page[#page + 1] = score
    if #page >= want * 2 then break end
  end
end
return page
