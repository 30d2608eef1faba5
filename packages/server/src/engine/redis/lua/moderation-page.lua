--[[
moderation-page: a page of a conversation's mutes or bans in user id order, optionally only the
mutes that hold at a given time. Ended mutes the scan meets are deleted (hash entry and order
member) and the page refilled past them, so the stored mutes stay the live ones plus those ended
since a listing last scanned past them: a scan meets each ended mute once.
KEYS[1]  entries hash (mutes or bans)   KEYS[2] order zset of that hash (all scores 0)
ARGV[1]  user id to start after ('' from the first)   ARGV[2] how many to return
ARGV[3]  now: keep only mutes holding at now and delete the ended ones ('' keeps every entry)
Returns  {userId, entry JSON, userId, entry JSON, ...}
]]
--#include mute
local want, now = tonumber(ARGV[2]), ARGV[3]
local from = '-'
if ARGV[1] ~= '' then
  from = '(' .. ARGV[1]
end
local found = {}
local batch = math.max(want, 100)
while #found < want * 2 do
  local ids = redis.call('ZRANGE', KEYS[2], from, '+', 'BYLEX', 'LIMIT', 0, batch)
  for _, id in ipairs(ids) do
    if now == '' or is_muted(KEYS[1], id, now) then
      local entry = redis.call('HGET', KEYS[1], id)
      if entry then
        found[#found + 1] = id
        found[#found + 1] = entry
        if #found >= want * 2 then
          break
        end
      end
    else
      redis.call('HDEL', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
    end
  end
  if #ids < batch then
    break
  end
  from = '(' .. ids[#ids]
end
return found
