--[[
rate-limit-consume: counts one unit against a GCRA limit if it allows one now (see
rate-limit-gcra.ts, whose consumeDecision this mirrors step by step, in integer milliseconds).
KEYS[1]  the limit's key for the subject: string, the theoretical arrival time (TAT, epoch ms)
ARGV[1]  interval (ms, = ceil(window / count))   ARGV[2] capacity (ms, = interval * count)
ARGV[3]  now (epoch ms)
Returns  {allowed (1|0), remaining, resetMs, retryAfterMs}
The key expires when its TAT passes (PEXPIRE of TAT - now, so Redis's clock never decides the
limit, only when a key that reads as absent anyway goes away). A refused consume writes nothing.
]]
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now > capacity then
  return {0, 0, tat - now, nextTat - capacity - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', nextTat - now)
return {1, math.floor((capacity - (nextTat - now)) / interval), nextTat - now, 0}
