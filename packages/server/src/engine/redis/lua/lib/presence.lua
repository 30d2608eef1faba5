-- presence: shared by the presence scripts (pasted where a script says `--#include presence`);
-- not a script of its own. Uses no KEYS or ARGV: callers pass them in.
--
-- A user's presence hash: node:<nodeId> -> the user's connections on that node (> 0), `online`
-- '1' while the user is announced online (the last transition reported was "came online"), and
-- lastSeenAt (ms) since the last "went offline". Announcing transitions from this one hash, in
-- scripts, is what makes each transition reported exactly once whatever the races.

-- The live nodes among registry pairs args[first..] (nodeId, expiresAt, ...): live while now <= expiresAt.
local function live_nodes(args, first, now)
  local live = {}
  for i = first, #args, 2 do
    if now <= tonumber(args[i + 1]) then
      live['node:' .. args[i]] = true
    end
  end
  return live
end

-- After connections went away: a user announced online without a connection on a live node left
-- is now offline since `now`. True when that happened.
local function settle(key, live, now)
  if redis.call('HGET', key, 'online') ~= '1' then
    return false
  end
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if live[fields[i]] then
      return false
    end
  end
  redis.call('HDEL', key, 'online')
  redis.call('HSET', key, 'lastSeenAt', string.format('%d', now))
  return true
end
