-- Shared by every ledger script (prepended to each). ARGV[1] is the key
-- prefix. The leases of a line live in one hash, PREFIX.."leases:"..LINE,
-- a field per lease (its id) holding the lease as a MessagePack array (see
-- `pack`); the hash expires with the line's longest-lived lease. To find a
-- lease's line from its id, PREFIX.."where:"..ID holds the line and
-- expires with the lease. PREFIX.."lines" is the set of lines that may
-- hold leases (for `all`). A lease is live while its expiry (the caller's
-- clock, in seconds) is after `now`; whatever a script finds expired it
-- removes, so nothing has to sweep. One hash read gives admission every
-- lease of a line: no key per lease to fetch, no sorted sets to keep.
local P = ARGV[1]
local LINES = P .. 'lines'

local function line_key(line) return P .. 'leases:' .. line end
local function where_key(id) return P .. 'where:' .. id end

-- A lease record: {stream, ip, ua, kind, started, seen, exp, device or
-- false, share} (share: extra holders of a movie lease).
local function pack(t)
  return cmsgpack.pack({t.stream, t.ip, t.ua, t.kind, t.started, t.seen, t.exp,
    t.dev or false, t.share or 0})
end
local function unpack_lease(id, line, packed)
  local a = cmsgpack.unpack(packed)
  return {id = id, t = {line = line, stream = a[1], ip = a[2], ua = a[3], kind = a[4],
    started = a[5], seen = a[6], exp = a[7], dev = a[8] or nil, share = a[9]}}
end

local function remove(id, line)
  local lk = line_key(line)
  redis.call('HDEL', lk, id)
  redis.call('DEL', where_key(id))
  if redis.call('EXISTS', lk) == 0 then redis.call('SREM', LINES, line) end
end

-- Stores a lease and sets its expiry everywhere it is kept. `new_line`:
-- the line's hash did not exist before (it gets its first expiry and joins
-- the set of lines); otherwise its expiry only ever grows (GT).
local function store(l, ttl_ms, new_line)
  local lk = line_key(l.t.line)
  redis.call('HSET', lk, l.id, pack(l.t))
  redis.call('SET', where_key(l.id), l.t.line, 'PX', ttl_ms)
  if new_line then
    redis.call('PEXPIRE', lk, ttl_ms)
    redis.call('SADD', LINES, l.t.line)
  else
    redis.call('PEXPIRE', lk, ttl_ms, 'GT')
  end
end

-- The lease whose id is `id` (live or not), or nil.
local function find(id)
  local line = redis.call('GET', where_key(id))
  if not line then return nil end
  local packed = redis.call('HGET', line_key(line), id)
  if not packed then
    redis.call('DEL', where_key(id))
    return nil
  end
  return unpack_lease(id, line, packed)
end

-- One lease as the scripts answer it: its id, then its fields and values
-- (the names the Rust side reads, crates/redis/src/scripts.rs).
local function row(l)
  local t = l.t
  local r = {l.id, 'line', t.line, 'stream', t.stream, 'ip', t.ip, 'ua', t.ua,
    'kind', t.kind, 'started', t.started, 'seen', t.seen, 'exp', t.exp}
  if t.dev then
    r[#r + 1] = 'dev'
    r[#r + 1] = t.dev
  end
  return r
end

local function older(a, b)
  local sa, sb = tonumber(a.t.started), tonumber(b.t.started)
  if sa ~= sb then return sa < sb end
  return tonumber(a.id) < tonumber(b.id)
end

-- The live leases of a line, oldest first; expired ones are removed (when
-- none is left, the line's hash is gone).
local function live(line, now)
  local leases = {}
  local flat = redis.call('HGETALL', line_key(line))
  for i = 1, #flat, 2 do
    local l = unpack_lease(flat[i], line, flat[i + 1])
    if tonumber(l.t.exp) <= now then
      remove(l.id, line)
    else
      leases[#leases + 1] = l
    end
  end
  table.sort(leases, older)
  return leases
end
