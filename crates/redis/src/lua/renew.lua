-- Extends a live lease. ARGV: prefix, generation, id, now, ttl.
-- Answers 1 (renewed), 0 (no such live lease: stop serving) or -1 (the
-- generation is not the caller's: Redis lost its data).
if redis.call('GET', P .. 'gen') ~= ARGV[2] then return -1 end
local id, now, ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local key = lease_key(id)
local t = fields(redis.call('HGETALL', key))
if not t.line then return 0 end
if tonumber(t.exp) <= now then
  remove(id, t.line)
  return 0
end
redis.call('HSET', key, 'seen', now, 'exp', now + ttl)
touch(id, t.line, now + ttl, ttl * 1000)
return 1
