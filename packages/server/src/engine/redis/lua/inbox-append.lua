--[[
inbox-append: appends one event to a user's inbox (trimmed like a conversation's log) and
publishes it once on the user's topic. The event JSON is the caller's text, never decoded here.
KEYS[1]  inbox stream   KEYS[2] the user's topic channel
ARGV[1]  publish command ('PUBLISH' | 'SPUBLISH'), never with webhook routing: inbox entries are not queued
         ARGV[2] max events   ARGV[3] max event age (ms)
ARGV[4]  at   ARGV[5] event JSON
Returns  the entry id
]]
--#include event-log
local log = event_log(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return append_event(log, ARGV[4], ARGV[5])
