-- gcra_consume(key, interval, capacity, now): counts one unit against a GCRA limit if it allows
-- one now (see rate-limit-gcra.ts, whose consumeDecision this mirrors step by step, in integer
-- milliseconds). `key` is a string holding the theoretical arrival time (TAT, epoch ms); interval
-- = ceil(window / count) ms, capacity = interval * count ms. Returns {allowed (1|0), remaining,
-- resetMs, retryAfterMs}. The key expires when its TAT passes (PEXPIRE of TAT - now, so Redis's
-- clock never decides the limit, only when a key that reads as absent anyway goes away). A
-- refused consume writes nothing.
local function gcra_consume(key, interval, capacity, now)
  interval, capacity, now = tonumber(interval), tonumber(capacity), tonumber(now)
  local tat = tonumber(redis.call('GET', key) or '') or now
  if tat < now then tat = now end
  local nextTat = tat + interval
  if nextTat - now > capacity then
    return {0, 0, tat - now, nextTat - capacity - now}
  end
  redis.call('SET', key, string.format('%.0f', nextTat), 'PX', nextTat - now)
  return {1, math.floor((capacity - (nextTat - now)) / interval), nextTat - now, 0}
end
