-- A direct conversation's copy of the blocks between its two members, so that its scripts see
-- them in their own slot: the conversation's blocks hash maps a blocker to "<version>:<1|0>"
-- (1: the blocker blocks the other member). Versions come from the tenant's block-seq counter,
-- which every block and unblock increments in the same step as it changes the blocker's set
-- (block-set), so copies written out of order keep the newest. A field absent means not copied
-- yet (a conversation older than the copy, or claimed after the block): its reader reads the
-- tenant's set and copies it (message-append's ARGV adoption).

-- copy_block(blocks_key, blocker, version, state): writes the copy unless one as new or newer is there.
local function copy_block(blocks_key, blocker, version, state)
  local current = redis.call('HGET', blocks_key, blocker)
  if current and tonumber(string.match(current, '^(%d+):')) >= tonumber(version) then
    return 0
  end
  redis.call('HSET', blocks_key, blocker, version .. ':' .. state)
  return 1
end

-- copied_block(blocks_key, blocker): true when blocking, false when not, nil when not copied yet.
local function copied_block(blocks_key, blocker)
  local current = redis.call('HGET', blocks_key, blocker)
  if not current then
    return nil
  end
  return string.sub(current, -1) == '1'
end
