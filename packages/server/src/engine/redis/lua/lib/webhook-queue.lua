-- webhook-queue: the bound of a webhook's queue stream, shared by the steps that append to one
-- (lib/webhooks.lua queue_append, lib/event-log.lua queue_routed). Uses no KEYS or ARGV.

-- Trims the queue stream `queue` to exactly `max` entries and counts, in the webhook hash
-- `webhook`'s field `dropped`, the entries it drops that the consumer group never handed out:
-- events lost before any attempt. Settled entries leaving early lose nothing, and an entry in
-- flight or awaiting a retry that goes ends as failed ('dropped') when it is next handed out.
local function trim_queue(queue, webhook, max)
  local excess = redis.call('XLEN', queue) - tonumber(max)
  if excess <= 0 then
    return
  end
  local gone = redis.call('XRANGE', queue, '-', '+', 'COUNT', excess)
  redis.call('XTRIM', queue, 'MAXLEN', '=', max)
  local last_ms, last_seq = -1, -1
  for _, fields in ipairs(redis.call('XINFO', 'GROUPS', queue)) do
    for i = 1, #fields, 2 do
      if fields[i] == 'last-delivered-id' then
        local ms, seq = string.match(fields[i + 1], '^(%d+)-(%d+)$')
        last_ms, last_seq = tonumber(ms), tonumber(seq)
      end
    end
  end
  local unread = 0
  for _, entry in ipairs(gone) do
    local ms, seq = string.match(entry[1], '^(%d+)-(%d+)$')
    ms, seq = tonumber(ms), tonumber(seq)
    if ms > last_ms or (ms == last_ms and seq > last_seq) then
      unread = unread + 1
    end
  end
  if unread > 0 then
    redis.call('HINCRBY', webhook, 'dropped', unread)
  end
end
