-- webhooks: shared by the webhook-*.lua scripts (scripts.ts pastes it where a script says
-- `--#include webhooks`); not a script of its own. Uses no KEYS or ARGV: callers pass them in.
--
-- Every webhook script takes the same eleven keys, all in the tenant's webhook slot (redis-keys.ts
-- `webhook`, in redis-webhooks.ts `scriptKeys` order): index zset, webhook hash, routes hash,
-- queue stream, retries zset, retry-age zset, records hash, record-order zset, lease string,
-- in-flight zset, settled-order zset. A queue's consumer group is WEBHOOK_GROUP; its consumers are named by node id.
-- A delivery id is the entry's stream id. The in-flight zset holds every entry pending in the
-- group with the time it was taken, on the callers' clock (the group's idle times are on Redis's).

--#include webhook-queue
local WEBHOOK_GROUP = 'dispatch'

local function webhook_keys(keys)
  return {index = keys[1], webhook = keys[2], routes = keys[3], queue = keys[4], retries = keys[5],
    retry_age = keys[6], records = keys[7], record_order = keys[8], lease = keys[9], in_flight = keys[10],
    settled_order = keys[11]}
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
    redis.call('ZADD', k.settled_order, redis.call('ZSCORE', k.record_order, id) or 0, id)
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

-- The node holding the lease at `now` (text), or nil.
local function lease_holder(k, now)
  local current = redis.call('GET', k.lease)
  if current then
    local expires_at, node = string.match(current, '^(%d+) (.*)$')
    if expires_at and tonumber(expires_at) > tonumber(now) then
      return node
    end
  end
  return nil
end

-- The lease's expiry (ms), or nil without a lease.
local function lease_expiry(k)
  local current = redis.call('GET', k.lease)
  if current then
    return tonumber(string.match(current, '^(%d+) '))
  end
  return nil
end

-- Appends an entry (flat field list) to the queue, then bounds it (lib/webhook-queue.lua, as
-- lib/event-log.lua queue_routed does for the logging steps). Returns the entry id.
local function queue_append(k, max, fields)
  local id = redis.call('XADD', k.queue, '*', unpack(fields))
  trim_queue(k.queue, k.webhook, max)
  return id
end

-- The queue's consumer group as XINFO GROUPS describes it (name, lag, last-delivered-id...), or
-- nil without the group.
local function group_info(k)
  for _, fields in ipairs(redis.call('XINFO', 'GROUPS', k.queue)) do
    local info = {}
    for i = 1, #fields, 2 do
      info[fields[i]] = fields[i + 1]
    end
    if info.name == WEBHOOK_GROUP then
      return info
    end
  end
  return nil
end

-- The id of the entry the group read last (its last-delivered-id), or nil without the group.
local function last_read(k)
  local info = group_info(k)
  return info and info['last-delivered-id']
end
