-- Every live lease, in no order. ARGV: prefix, now. Expired ones are
-- removed on the way.
local now = tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', ALL, '-inf', now)) do
  local line = redis.call('HGET', lease_key(id), 'line')
  if line then remove(id, line) else redis.call('ZREM', ALL, id) end
end
local r = {}
for _, id in ipairs(redis.call('ZRANGE', ALL, 0, -1)) do
  local flat = redis.call('HGETALL', lease_key(id))
  if #flat == 0 then
    redis.call('ZREM', ALL, id)
  else
    r[#r + 1] = row({id = id, flat = flat})
  end
end
return r
