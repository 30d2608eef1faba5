--[[
rate-limit-consume: counts one unit against a GCRA limit if it allows one now (lib/gcra.lua).
KEYS[1]  the limit's key for the subject: string, the theoretical arrival time (TAT, epoch ms)
ARGV[1]  interval (ms, = ceil(window / count))   ARGV[2] capacity (ms, = interval * count)
ARGV[3]  now (epoch ms)
Returns  {allowed (1|0), remaining, resetMs, retryAfterMs}
]]
--#include gcra
return gcra_consume(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
