-- role_within(role, max_role): whether `role` is at most `max_role` (owner > admin > member);
-- max_role '' bounds nothing. The engine's RoleBound, checked inside the step it guards.
local role_rank = { member = 0, admin = 1, owner = 2 }
local function role_within(role, max_role)
  if max_role == '' then
    return true
  end
  return role_rank[role] <= role_rank[max_role]
end
