-- Every live lease, in no order. ARGV: prefix, now. Expired ones are
-- removed on the way, and lines that hold none leave the set of lines.
local now = tonumber(ARGV[2])
local r = {}
for _, line in ipairs(redis.call('SMEMBERS', LINES)) do
  local leases = live(line, now)
  if #leases == 0 then
    redis.call('SREM', LINES, line)
  else
    for _, l in ipairs(leases) do r[#r + 1] = row(l) end
  end
end
return r
