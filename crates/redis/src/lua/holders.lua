-- The live leases of a line, oldest first. ARGV: prefix, line, now.
local r = {}
for _, l in ipairs(live(ARGV[2], tonumber(ARGV[3]))) do r[#r + 1] = row(l) end
return r
