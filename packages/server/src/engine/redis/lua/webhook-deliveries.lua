--[[
webhook-deliveries: the webhook's delivery records, newest attempt first (ties: higher id first).
KEYS[1..11]  the webhook's keys (lib/webhooks.lua)
ARGV[1]  limit
Returns  {record JSON, ...}, or false when the webhook is absent
]]
--#include webhooks
local k = webhook_keys(KEYS)
if redis.call('EXISTS', k.webhook) == 0 then
  return false
end
local ids = redis.call('ZREVRANGE', k.record_order, 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then
  return {}
end
return redis.call('HMGET', k.records, unpack(ids))
