-- webhooks: shared by the webhook-*.lua scripts (scripts.ts pastes it where a script says
-- `--#include webhooks`); not a script of its own. Uses no KEYS or ARGV: callers pass them in.
--
-- Every webhook script takes the same nine keys, all in the tenant's webhook slot (redis-keys.ts
-- `webhook`, in redis-webhooks.ts `scriptKeys` order): index zset, webhook hash, routes hash,
-- queue stream, retries zset, retry-age zset, records hash, record-order zset, lease string.
-- A queue's consumer group is WEBHOOK_GROUP; its consumers are named by node id. A delivery id is
-- the entry's stream id.

local WEBHOOK_GROUP = 'dispatch'

local function webhook_keys(keys)
  return {index = keys[1], webhook = keys[2], routes = keys[3], queue = keys[4], retries = keys[5],
    retry_age = keys[6], records = keys[7], record_order = keys[8], lease = keys[9]}
end

-- The routes entry of a webhook: present while it is enabled (the logging scripts queue for it).
local function set_route(k, enabled, field, types)
  if enabled == '1' then
    redis.call('HSET', k.routes, field, types)
  else
    redis.call('HDEL', k.routes, field)
  end
end

-- {ms, seq} of a stream id, or nil for text that is not one.
local function stream_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then
    return nil
  end
  return {tonumber(ms), tonumber(seq)}
end

local function id_before(a, b)
  local x, y = stream_id(a), stream_id(b)
  return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2])
end

-- The queue entry with this id ({id, fields}), or nil when the queue no longer holds it.
local function queue_entry(k, id)
  return redis.call('XRANGE', k.queue, id, id)[1]
end

-- Marks a delivery record failed (its entry left the queue); nothing when there is no record.
local function record_failed(k, id)
  local raw = redis.call('HGET', k.records, id)
  if raw then
    local record = cjson.decode(raw)
    record.status = 'failed'
    record.nextAttemptAt = cjson.null
    redis.call('HSET', k.records, id, cjson.encode(record))
  end
end

-- Schedules (or clears, with due nil) the retry of entry `id`.
local function schedule_retry(k, id, due)
  if due then
    redis.call('ZADD', k.retries, due, id)
    redis.call('ZADD', k.retry_age, stream_id(id)[1], id)
  else
    redis.call('ZREM', k.retries, id)
    redis.call('ZREM', k.retry_age, id)
  end
end
