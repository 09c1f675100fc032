-- A failed login anywhere: one failure into the address's and the
-- username's shared buckets (leaky buckets in milli-failures, the same
-- arithmetic as crates/core/src/access/limiter.rs), then their levels to
-- every node on PREFIX.."limits", where each raises its own buckets to
-- them. A bucket's key lives until it has drained.
-- ARGV: prefix, now, ip, username key, ip burst, ip drain secs, username
-- burst, username drain secs.
local P, now = ARGV[1], tonumber(ARGV[2])
local function add(key, burst, drain)
  drain = math.max(drain, 1)
  local t = redis.call('HMGET', key, 'l', 'u')
  local level = tonumber(t[1] or '0')
  local updated = tonumber(t[2] or ARGV[2])
  local elapsed = math.max(0, now - updated)
  local drained = math.max(0, level - math.floor(elapsed * 1000 / drain))
  local new = math.min(drained + 1000, burst * 2000)
  redis.call('HSET', key, 'l', new, 'u', now)
  redis.call('PEXPIRE', key, new * drain + 1000)
  return new
end
local ip_level = add(P .. 'fail:ip:' .. ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[6]))
local user_level = add(P .. 'fail:user:' .. ARGV[4], tonumber(ARGV[7]), tonumber(ARGV[8]))
-- The username key goes last: it is the one field that may hold a '|'.
redis.call('PUBLISH', P .. 'limits', table.concat({'f', ARGV[3],
  string.format('%d', ip_level), string.format('%d', user_level), ARGV[2], ARGV[4]}, '|'))
return {ip_level, user_level}
