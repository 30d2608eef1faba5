--[[
webhook-settle: records an attempt at an entry in flight and ends its in-flight state in one step
(whoever holds the lease): acknowledged in the group and out of the in-flight zset, its retry
cleared, or rescheduled for `retry`; the delivery record replaced; failingSince cleared by
`delivered`, else set to now when unset, and the webhook disabled (routing removed) when failing
since at or before the limit. Two trims, each costing little:
  - delivered and failed records beyond the bound go, oldest attempt first (their own order, so
    pending ones, which stay until they end, are never in the way);
  - once the oldest queue entry is older than the retention, the queue is trimmed (MINID) up to the
    oldest entry not settled (first unread, pending in the group, awaiting a retry) or the
    retention cutoff, whichever comes first.
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  deliveryId   ARGV[2] delivery record JSON   ARGV[3] outcome delivered|retry|failed
ARGV[4]  now   ARGV[5] disable when failing since at or before this   ARGV[6] record score (lastAttemptAt)
ARGV[7]  retry due time   ARGV[8] routes field   ARGV[9] max delivery records
ARGV[10] settled retention (ms)
Returns  1 when this disabled the webhook, else 0 (also when the webhook is absent)
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return 0
end
local id = ARGV[1]
if stream_id(id) then
  redis.call('XACK', k.queue, WEBHOOK_GROUP, id)
  redis.call('ZREM', k.in_flight, id)
  schedule_retry(k, id, nil)
  if ARGV[3] == 'retry' then
    schedule_retry(k, id, ARGV[7])
  end
end
redis.call('HSET', k.records, id, ARGV[2])
redis.call('ZADD', k.record_order, ARGV[6], id)
if ARGV[3] == 'retry' then
  redis.call('ZREM', k.settled_order, id)
else
  redis.call('ZADD', k.settled_order, ARGV[6], id)
  local excess = redis.call('ZCARD', k.settled_order) - tonumber(ARGV[9])
  if excess > 0 then
    local gone = redis.call('ZRANGE', k.settled_order, 0, excess - 1)
    redis.call('ZREM', k.settled_order, unpack(gone))
    redis.call('ZREM', k.record_order, unpack(gone))
    redis.call('HDEL', k.records, unpack(gone))
  end
end

local cutoff = tonumber(ARGV[4]) - tonumber(ARGV[10])
local first = redis.call('XRANGE', k.queue, '-', '+', 'COUNT', 1)[1]
if first and stream_id(first[1])[1] < cutoff then
  local min_id = string.format('%d-0', cutoff)
  local summary = redis.call('XPENDING', k.queue, WEBHOOK_GROUP)
  if summary[1] > 0 and id_before(summary[2], min_id) then
    min_id = summary[2]
  end
  local oldest_retry = redis.call('ZRANGE', k.retry_age, 0, 0, 'WITHSCORES')
  if oldest_retry[1] then
    for _, retry_id in ipairs(redis.call('ZRANGEBYSCORE', k.retry_age, oldest_retry[2], oldest_retry[2])) do
      if id_before(retry_id, min_id) then
        min_id = retry_id
      end
    end
  end
  local read = last_read(k)
  if read then
    local unread = redis.call('XRANGE', k.queue, '(' .. read, '+', 'COUNT', 1)[1]
    if unread and id_before(unread[1], min_id) then
      min_id = unread[1]
    end
  end
  redis.call('XTRIM', k.queue, 'MINID', min_id)
end

if ARGV[3] == 'delivered' then
  redis.call('HSET', k.webhook, 'failingSince', '')
  return 0
end
local failing_since = redis.call('HGET', k.webhook, 'failingSince')
if not failing_since or failing_since == '' then
  failing_since = ARGV[4]
  redis.call('HSET', k.webhook, 'failingSince', failing_since)
end
if redis.call('HGET', k.webhook, 'enabled') == '1' and tonumber(failing_since) <= tonumber(ARGV[5]) then
  redis.call('HSET', k.webhook, 'enabled', '0', 'disabledAt', ARGV[4])
  redis.call('HDEL', k.routes, ARGV[8])
  return 1
end
return 0
