-- event-log: shared by the scripts that log events (scripts.ts pastes it where a script says
-- `--#include event-log`); not a script of its own. Uses no KEYS or ARGV: callers pass them in.
--
-- A log is a stream of durable events, entry id `<at>-<n>`, field `event` = the event JSON.
-- JSON is assembled as text here rather than decoded and re-encoded: cjson keeps 14 significant
-- digits and cannot tell [] from {}, so stored JSON is spliced, never round-tripped.

-- The event log of one script call:
--   {stream = key, topic = channel, publish = 'PUBLISH' | 'SPUBLISH', max_events = n, max_age = ms,
--    routing = nil | text}
-- `publish` is the command alone, or, for a conversation's log whose events feed the tenant's
-- webhook queues (redis-context.ts `logArgs`), the command followed by lines saying how:
--   - off Cluster, seven lines: the routes hash, the queue key prefix, the wake channel, the wake
--     message prefix, the queue bound, the webhook hash key prefix and the conversation id (last,
--     so it may hold any character). Those lines are parsed only when the tenant has routes. The webhook keys are
--     not among the script's KEYS: this only happens off Cluster, where a script may touch
--     undeclared keys.
--   - on Cluster, 'outbox' and four lines: the outbox stream of the conversation's slot (a key of
--     that same slot, so the script may write it), its bound, the tenant id and the conversation
--     id. The event goes to the outbox and the relay (redis-webhook-outbox.ts) moves it to the
--     tenant's queues with webhook-route.lua, which shares queue_routed below.
--#include webhook-queue
local function event_log(stream, topic, publish, max_events, max_age)
  local routing = nil
  local first = string.find(publish, '\n', 1, true)
  if first then
    routing = string.sub(publish, first + 1)
    publish = string.sub(publish, 1, first - 1)
  end
  if publish ~= 'PUBLISH' and publish ~= 'SPUBLISH' then
    error('event-log: unknown publish command ' .. tostring(publish))
  end
  return {stream = stream, topic = topic, publish = publish, max_events = tonumber(max_events), max_age = tonumber(max_age),
    routing = routing}
end

-- The first `count` lines of `text` and the rest after them.
local function split_lines(text, count)
  local parts = {}
  local from = 1
  for _ = 1, count do
    local stop = string.find(text, '\n', from, true)
    if not stop then
      error('event-log: malformed webhook routing')
    end
    parts[#parts + 1] = string.sub(text, from, stop - 1)
    from = stop + 1
  end
  return parts, string.sub(text, from)
end

-- Queues a logged event (its log id and time, its JSON) for every webhook in `routes` (HGETALL of
-- the tenant's routes hash) subscribed to its type, and announces each on the wake channel.
-- `queue` = {prefix, wake, wake_prefix, max, hash_prefix}: queue keys and webhook hash keys are
-- the prefixes followed by the route field. The event id is the same for every webhook and
-- for every relay of the same logged event. Returns how many entries it queued.
local function queue_routed(routes, queue, conversation_id, id, ms_text, event)
  local event_type = string.match(event, '^{"type":"([^"]+)"')
  local event_id = nil
  local queued = 0
  for i = 1, #routes, 2 do
    local types = routes[i + 1]
    if string.find(types, '\n*\n', 1, true) or string.find(types, '\n' .. event_type .. '\n', 1, true) then
      event_id = event_id or ('evt_' .. string.sub(redis.sha1hex(conversation_id .. '\n' .. id), 1, 32))
      local key = queue.prefix .. routes[i]
      redis.call('XADD', key, '*',
        'eventId', event_id, 'type', event_type, 'at', ms_text, 'conversationId', conversation_id, 'event', event)
      -- Bounded like every queue append (lib/webhook-queue.lua).
      trim_queue(key, queue.hash_prefix .. routes[i], queue.max)
      redis.call('PUBLISH', queue.wake, queue.wake_prefix .. routes[i])
      queued = queued + 1
    end
  end
  return queued
end

-- Off Cluster: reads the tenant's routes and queues the event (queue_routed). A tenant without
-- webhooks costs one HGETALL of a missing key.
local function queue_for_webhooks(routing, id, ms_text, event)
  local routes_end = string.find(routing, '\n', 1, true)
  if not routes_end then
    error('event-log: malformed webhook routing')
  end
  local routes = redis.call('HGETALL', string.sub(routing, 1, routes_end - 1))
  if #routes == 0 then
    return
  end
  local parts, conversation_id = split_lines(string.sub(routing, routes_end + 1), 5)
  queue_routed(routes, {prefix = parts[1], wake = parts[2], wake_prefix = parts[3], max = parts[4], hash_prefix = parts[5]},
    conversation_id, id, ms_text, event)
end

-- On Cluster: appends the event to its slot's outbox, every event of every tenant (whether the
-- tenant has webhooks is known only in the tenant's slot, which the relay reads).
local function append_outbox(routing, id, ms_text, event)
  local parts, conversation_id = split_lines(routing, 4)
  redis.call('XADD', parts[2], 'MAXLEN', '~', parts[3], '*',
    'tenantId', parts[4], 'conversationId', conversation_id, 'id', id, 'at', ms_text, 'event', event)
end

-- Appends `event` (JSON text) at time `at` (ms, made non-decreasing: at least the newest entry's),
-- trims the log, publishes the envelope {"id","at","event"} once on the topic, and with routing
-- queues the event for the tenant's webhooks (queue_for_webhooks) or, on Cluster, appends it to
-- its slot's outbox (append_outbox); returns the id.
-- Retention, exact: entries older than max_age before the new one go (MINID), then the oldest
-- beyond max_events (MAXLEN). The newest id dropped becomes the stream's max-deleted-entry-id
-- (XSETID), which event-read compares with a reader's position to report a gap.
local function append_event(log, at, event)
  local ms = tonumber(at)
  local newest = redis.call('XREVRANGE', log.stream, '+', '-', 'COUNT', 1)[1]
  if newest then
    local newest_ms = tonumber(string.match(newest[1], '^(%d+)-'))
    if newest_ms > ms then
      ms = newest_ms
    end
  end
  local ms_text = string.format('%d', ms)
  local id = redis.call('XADD', log.stream, ms_text .. '-*', 'event', event)
  local dropped = false
  local min_ms = ms - log.max_age
  -- Only when the oldest entry is past the cutoff: a reverse range from a cutoff with nothing
  -- older walks the whole stream on Redis 7.0 (≈ 0.7 ms at 10,000 entries), on every append.
  local oldest = redis.call('XRANGE', log.stream, '-', '+', 'COUNT', 1)[1]
  if min_ms > 0 and oldest and tonumber(string.match(oldest[1], '^(%d+)-')) < min_ms then
    local min_id = string.format('%d', min_ms) .. '-0'
    local older = redis.call('XREVRANGE', log.stream, '(' .. min_id, '-', 'COUNT', 1)[1]
    if older then
      dropped = older[1]
      redis.call('XTRIM', log.stream, 'MINID', min_id)
    end
  end
  local excess = redis.call('XLEN', log.stream) - log.max_events
  if excess > 0 then
    local gone = redis.call('XRANGE', log.stream, '-', '+', 'COUNT', excess)
    dropped = gone[#gone][1]
    redis.call('XTRIM', log.stream, 'MAXLEN', log.max_events)
  end
  if dropped then
    redis.call('XSETID', log.stream, id, 'MAXDELETEDID', dropped)
  end
  redis.call(log.publish, log.topic, '{"id":"' .. id .. '","at":' .. ms_text .. ',"event":' .. event .. '}')
  if log.routing then
    if string.sub(log.routing, 1, 7) == 'outbox\n' then
      append_outbox(log.routing, id, ms_text, event)
    else
      queue_for_webhooks(log.routing, id, ms_text, event)
    end
  end
  return id
end

-- A JSON string.
local function json_text(value)
  return cjson.encode(value)
end

-- conversation.created / conversation.updated, with the Conversation read from its meta hash (as
-- HGETALL; numbers are stored as decimal digits and pasted as they are).
local function conversation_event(event_type, meta, tenant_id)
  local fields = {}
  for i = 1, #meta, 2 do
    fields[meta[i]] = meta[i + 1]
  end
  local title = 'null'
  if fields.title then
    title = json_text(fields.title)
  end
  local id = json_text(fields.id)
  return '{"type":"' .. event_type .. '","conversationId":' .. id ..
    ',"conversation":{"tenantId":' .. json_text(tenant_id) .. ',"id":' .. id .. ',"type":' .. json_text(fields.type) ..
    ',"title":' .. title .. ',"createdAt":' .. fields.createdAt .. ',"lastSeq":' .. fields.lastSeq ..
    ',"lastActivityAt":' .. fields.lastActivityAt .. ',"memberCount":' .. fields.memberCount .. '}}'
end

-- message.created / message.updated / message.deleted, from the stored message JSON (an object
-- without conversationId and myReactions, as cjson wrote it).
local function message_event(event_type, conversation_id, stored)
  local id = json_text(conversation_id)
  return '{"type":"' .. event_type .. '","conversationId":' .. id .. ',"message":' ..
    string.sub(stored, 1, -2) .. ',"conversationId":' .. id .. ',"myReactions":[]}}'
end

-- member.added / member.removed / member.updated.
local function member_event(event_type, conversation_id, user_id, role)
  return '{"type":"' .. event_type .. '","conversationId":' .. json_text(conversation_id) ..
    ',"userId":' .. json_text(user_id) .. ',"role":' .. json_text(role) .. '}'
end

-- reaction.added / reaction.removed.
local function reaction_event(event_type, conversation_id, message_id, emoji, user_id)
  return '{"type":"' .. event_type .. '","conversationId":' .. json_text(conversation_id) ..
    ',"messageId":' .. json_text(message_id) .. ',"emoji":' .. json_text(emoji) .. ',"userId":' .. json_text(user_id) .. '}'
end

-- read.
local function read_event(conversation_id, user_id, seq)
  return '{"type":"read","conversationId":' .. json_text(conversation_id) .. ',"userId":' .. json_text(user_id) ..
    ',"seq":' .. string.format('%d', seq) .. '}'
end
