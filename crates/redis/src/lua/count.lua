-- How many leases each line holds now (what people are shown, never what
-- admission decides on). ARGV: prefix, now, line... Reads only: an expired
-- lease is not counted, and left for a writing script to remove.
local now = tonumber(ARGV[2])
local r = {}
for i = 3, #ARGV do
  local n = 0
  for _, packed in ipairs(redis.call('HVALS', line_key(ARGV[i]))) do
    if cmsgpack.unpack(packed)[7] > now then n = n + 1 end
  end
  r[#r + 1] = n
end
return r
