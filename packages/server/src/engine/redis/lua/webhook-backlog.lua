--[[
webhook-backlog: entries neither delivered nor failed (never read by the group, pending in it,
awaiting a retry), the `at` of the oldest of them that the queue still holds, and the entries the
queue bound dropped. Read-only; costs no walk over the queue (see the note on the lag below).
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
Returns  {depth, at | false, dropped}
]]
--#include webhooks
local k = webhook_keys(KEYS)
local dropped = tonumber(redis.call('HGET', k.webhook, 'dropped') or '0')
if redis.call('EXISTS', k.queue) == 0 then
  return {0, false, dropped}
end
local group = group_info(k)
if not group then
  return {0, false, dropped}
end
local last_read = group['last-delivered-id']
local after_last = '(' .. last_read
-- Entries never read, without walking them: trimming drops the oldest entries only, so when it
-- went past the last read entry every entry left is unread (XLEN); otherwise the group's lag
-- counts them (counted by walking only when Redis cannot tell it). Approximate in one case: once
-- trimming dropped entries never read, Redis 7.0's lag keeps counting them after the group has read
-- past them again (it cannot tell how many entries it skipped), so depth may overcount by those.
local unread = 0
local first = redis.call('XRANGE', k.queue, '-', '+', 'COUNT', 1)[1]
if first then
  local length = redis.call('XLEN', k.queue)
  if id_before(last_read, first[1]) then
    unread = length
  else
    unread = math.min(group.lag or #redis.call('XRANGE', k.queue, after_last, '+'), length)
  end
end
local depth = unread + group.pending + redis.call('ZCARD', k.retries)
local candidates = {}
local first_unread = redis.call('XRANGE', k.queue, after_last, '+', 'COUNT', 1)[1]
if first_unread then
  candidates[#candidates + 1] = first_unread[1]
end
if group.pending > 0 then
  candidates[#candidates + 1] = redis.call('XPENDING', k.queue, WEBHOOK_GROUP)[2]
end
local oldest_retry = redis.call('ZRANGE', k.retry_age, 0, 0, 'WITHSCORES')
if oldest_retry[1] then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', k.retry_age, oldest_retry[2], oldest_retry[2])) do
    candidates[#candidates + 1] = id
  end
end
table.sort(candidates, id_before)
for _, id in ipairs(candidates) do
  local entry = queue_entry(k, id)
  if entry then
    for i = 1, #entry[2], 2 do
      if entry[2][i] == 'at' then
        return {depth, entry[2][i + 1], dropped}
      end
    end
  end
end
return {depth, false, dropped}
