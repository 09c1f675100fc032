-- A node that could not reach Redis, or found that Redis lost its data
-- (the generation changed), hands over the leases it serves.
-- ARGV: prefix, the generation the node knew, a new generation to set if
-- there is none, now, then 12 values per lease: id, known (1: Redis had
-- it), line, stream, ip, user agent, device ('' none, else '=' ..),
-- kind, started, seen, expiry, ttl.
-- Where Redis kept its data, a known lease it no longer has was ended
-- while the node was away (evicted, cut, expired): it is not put back but
-- answered as gone; leases the node admitted on its own meanwhile are
-- added. Where Redis lost its data, every lease is put back as it was
-- (the line's limit is not checked: these viewers are already watching).
-- Answers {generation, gone id...}.
local cur = redis.call('GET', P .. 'gen')
local reset = cur ~= ARGV[2]
if not cur then
  redis.call('SET', P .. 'gen', ARGV[3])
  cur = ARGV[3]
end
local now = tonumber(ARGV[4])
local next_key = P .. 'next'
if redis.call('EXISTS', next_key) == 0 then
  redis.call('SET', next_key, string.format('%d', now * 1048576))
end
local r = {cur}
for i = 5, #ARGV, 12 do
  local id, known, line = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local exp, ttl = tonumber(ARGV[i + 10]), tonumber(ARGV[i + 11])
  if known == '1' and not reset then
    local held = find(id)
    if held and tonumber(held.t.exp) > now then
      if exp > tonumber(held.t.exp) then
        held.t.exp = exp
        store(held, ttl * 1000, false)
      end
    else
      if held then remove(id, held.t.line) end
      r[#r + 1] = id
    end
  else
    local dev = false
    if ARGV[i + 6] ~= '' then dev = string.sub(ARGV[i + 6], 2) end
    local old = find(id)
    if old then remove(id, old.t.line) end
    store({id = id, t = {line = line, stream = tonumber(ARGV[i + 3]), ip = ARGV[i + 4],
      ua = ARGV[i + 5], kind = ARGV[i + 7], started = tonumber(ARGV[i + 8]),
      seen = tonumber(ARGV[i + 9]), exp = exp, dev = dev, share = 0}}, ttl * 1000,
      redis.call('EXISTS', line_key(line)) == 0)
  end
end
return r
