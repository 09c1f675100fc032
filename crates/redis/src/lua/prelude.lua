-- Shared by every ledger script (prepended to each). ARGV[1] is the key
-- prefix. A lease is a hash under PREFIX.."lease:"..ID with a PEXPIRE, and a
-- member of its line's sorted set and of the set of every lease, both
-- scored by its expiry (the caller's clock, in seconds). A lease is live
-- while its hash exists and its expiry is after `now`; whatever a script
-- finds expired it removes, so nothing has to sweep.
local P = ARGV[1]
local ALL = P .. 'all'

local function lease_key(id) return P .. 'lease:' .. id end
local function line_key(line) return P .. 'line:' .. line end

-- HGETALL's flat answer as a table.
local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function remove(id, line)
  redis.call('DEL', lease_key(id))
  redis.call('ZREM', line_key(line), id)
  redis.call('ZREM', ALL, id)
end

-- Sets a lease's expiry everywhere it is kept.
local function touch(id, line, exp, ttl_ms)
  redis.call('PEXPIRE', lease_key(id), ttl_ms)
  redis.call('ZADD', line_key(line), exp, id)
  redis.call('ZADD', ALL, exp, id)
  local lk = line_key(line)
  if redis.call('PTTL', lk) < ttl_ms then redis.call('PEXPIRE', lk, ttl_ms) end
end

-- One lease as the scripts answer it: its id, then its fields and values.
local function row(l)
  local r = {l.id}
  for _, v in ipairs(l.flat) do r[#r + 1] = v end
  return r
end

local function older(a, b)
  local sa, sb = tonumber(a.t.started), tonumber(b.t.started)
  if sa ~= sb then return sa < sb end
  return tonumber(a.id) < tonumber(b.id)
end

-- The live leases of a line, oldest first; expired ones are removed.
local function live(line, now)
  local leases = {}
  for _, id in ipairs(redis.call('ZRANGE', line_key(line), 0, -1)) do
    local flat = redis.call('HGETALL', lease_key(id))
    local t = fields(flat)
    if #flat == 0 or tonumber(t.exp) <= now then
      remove(id, line)
    else
      leases[#leases + 1] = {id = id, flat = flat, t = t}
    end
  end
  table.sort(leases, older)
  return leases
end
