-- How many leases each line holds now (what people are shown, never what
-- admission decides on). ARGV: prefix, now, line...
local now = ARGV[2]
local r = {}
for i = 3, #ARGV do
  r[#r + 1] = redis.call('ZCOUNT', line_key(ARGV[i]), '(' .. now, '+inf')
end
return r
