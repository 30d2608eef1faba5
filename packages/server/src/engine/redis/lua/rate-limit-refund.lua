--[[
rate-limit-refund: gives one counted unit of a GCRA limit back (see rate-limit-gcra.ts, whose
refundTat this mirrors step by step, in integer milliseconds): the TAT moves back by one interval,
never below now, so at most one unit returns and never more than the burst.
KEYS[1]  the limit's key for the subject: string, the theoretical arrival time (TAT, epoch ms)
ARGV[1]  interval (ms, = ceil(window / count))   ARGV[2] now (epoch ms)
Returns  the TAT now in effect (epoch ms; now when the burst is full, and the key is then gone)
A key with nothing counted (absent, or a TAT not after now) is left as it is. The key expires
when its new TAT passes (PEXPIRE of TAT - now, as in rate-limit-consume.lua).
]]
local interval = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored == nil or stored <= now then
  return now
end
local tat = stored - interval
if tat <= now then
  redis.call('DEL', KEYS[1])
  return now
end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', tat - now)
return tat
