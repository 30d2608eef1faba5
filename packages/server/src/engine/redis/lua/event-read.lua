--[[
event-read: a page of an event log (a conversation's events or a user's inbox) after a position,
with whether retention dropped any event after that position, read in one step.
KEYS[1]  the log stream
ARGV[1]  position to read after, '<ms>-<n>' ('' for from the oldest kept)   ARGV[2] how many at most
Returns  {trimmed 1|0, {{id, {'event', event JSON}}, ...}}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, {}}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local dropped = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then
    dropped = info[i + 1]
  end
end
local after = ARGV[1]
local trimmed = 0
if dropped ~= '0-0' then
  if after == '' then
    trimmed = 1
  else
    local dropped_ms, dropped_n = string.match(dropped, '^(%d+)-(%d+)$')
    local after_ms, after_n = string.match(after, '^(%d+)-(%d+)$')
    dropped_ms, dropped_n, after_ms, after_n = tonumber(dropped_ms), tonumber(dropped_n), tonumber(after_ms), tonumber(after_n)
    if dropped_ms > after_ms or (dropped_ms == after_ms and dropped_n > after_n) then
      trimmed = 1
    end
  end
end
local start = '-'
if after ~= '' then
  start = '(' .. after
end
return {trimmed, redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', tonumber(ARGV[2]))}
