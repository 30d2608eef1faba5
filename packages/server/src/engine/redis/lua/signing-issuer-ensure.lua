--[[
signing-issuer-ensure: returns the deployment's issuer (the `iss` of built-in tokens), storing
the candidate first when there is none; first writer wins, so nodes starting together agree.
KEYS[1]  issuer string
ARGV[1]  candidate issuer
Returns  the stored issuer
]]
local issuer = redis.call('GET', KEYS[1])
if issuer then
  return issuer
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
