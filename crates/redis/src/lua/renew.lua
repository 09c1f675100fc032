-- Extends a live lease. ARGV: prefix, generation, id, now, ttl.
-- Answers 1 (renewed), 0 (no such live lease: stop serving) or -1 (the
-- generation is not the caller's: Redis lost its data).
if redis.call('GET', P .. 'gen') ~= ARGV[2] then return -1 end
local id, now, ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local l = find(id)
if not l then return 0 end
if tonumber(l.t.exp) <= now then
  remove(id, l.t.line)
  return 0
end
l.t.seen, l.t.exp = now, now + ttl
store(l, ttl * 1000, false)
return 1
