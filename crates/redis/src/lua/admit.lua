-- Admission, atomic: count the line's live leases, resume an HLS lease or
-- share a movie lease of the same player, replace the player's own lease,
-- refuse or evict under newest-wins, insert. The rules are LocalLedger's
-- (crates/core/src/ledger/local.rs), step by step.
-- ARGV: prefix, generation, now, ttl, line, max, policy (refuse|newest),
-- stream, ip, user agent, device ('' none, else '=' .. device), kind
-- (ts|hls|vod).
-- Answers {'reset'} when the generation is not the caller's, {'full',
-- row...}, {'resumed', id} or {'admitted', id, row...} (the leases ended).
if redis.call('GET', P .. 'gen') ~= ARGV[2] then return {'reset'} end
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local line, max, policy = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local stream, ip, ua, device, kind = tonumber(ARGV[8]), ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local exp, ttl_ms = now + ttl, ttl * 1000
local leases = live(line, now)

-- HLS has no connection to replace: a player reloading its playlist is the
-- same viewer. Another range request of the movie a player is watching (a
-- seek) is the same viewer too, and shares the lease.
if kind == 'hls' or kind == 'vod' then
  for _, l in ipairs(leases) do
    local t = l.t
    if t.kind == kind and t.stream == stream and t.ip == ip and t.ua == ua then
      t.seen, t.exp = now, exp
      if kind == 'vod' then t.share = (t.share or 0) + 1 end
      store(l, ttl_ms, false)
      return {'resumed', l.id}
    end
  end
end

local holders = {}
for i, l in ipairs(leases) do holders[i] = l end
local ended = {}
-- A reconnect from the same address and player replaces its own lease.
-- Unlimited lines have no slot to save: identical boxes behind one NAT
-- must not end each other's streams.
if max ~= 0 then
  for i, l in ipairs(leases) do
    if l.t.ip == ip and l.t.ua == ua and l.t.kind == kind then
      ended[#ended + 1] = table.remove(leases, i)
      break
    end
  end
end
if max ~= 0 and #leases >= max then
  if policy == 'refuse' then
    local r = {'full'}
    for _, l in ipairs(holders) do r[#r + 1] = row(l) end
    return r
  end
  -- Newest wins: the same address and player first, then the same
  -- address, then the oldest.
  while #leases >= max do
    local victim = nil
    for i, l in ipairs(leases) do
      if l.t.ip == ip and l.t.ua == ua then victim = i break end
    end
    if not victim then
      for i, l in ipairs(leases) do
        if l.t.ip == ip then victim = i break end
      end
    end
    ended[#ended + 1] = table.remove(leases, victim or 1)
  end
end

local r = {'admitted', ''}
local gone = {}
for _, l in ipairs(ended) do
  remove(l.id, line)
  r[#r + 1] = row(l)
  gone[#gone + 1] = l.id
end
-- Ids count up from the clock (2^20 a second), so a Redis that lost its
-- data never hands out an id a node still holds from before.
local next_key = P .. 'next'
local n = redis.call('INCR', next_key)
if n == 1 then
  n = now * 1048576 + 1
  redis.call('SET', next_key, string.format('%d', n))
end
local id = string.format('%d', n)
r[2] = id
local dev = false
if device ~= '' then dev = string.sub(device, 2) end
store({id = id, t = {line = line, stream = tonumber(stream), ip = ip, ua = ua, kind = kind,
  started = now, seen = now, exp = exp, dev = dev, share = 0}}, ttl_ms,
  #leases == 0)
if #gone > 0 then redis.call('PUBLISH', P .. 'ended', table.concat(gone, ',')) end
return r
