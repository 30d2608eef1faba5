-- is_muted(mutes_key, user, now): whether `user` ('' for none) has a mute in the conversation's
-- mutes hash (userId → JSON {until, createdAt}) that holds at `now`: `until` null means until
-- lifted, otherwise the mute holds while now < until. Ended mutes are ignored here (a listing,
-- moderation-page, deletes those it meets).
local function is_muted(mutes_key, user, now)
  if user == '' then
    return false
  end
  local raw = redis.call('HGET', mutes_key, user)
  if not raw then
    return false
  end
  local ends = cjson.decode(raw)['until']
  return ends == cjson.null or ends == nil or tonumber(now) < tonumber(ends)
end
