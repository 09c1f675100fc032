-- Rotates over request paths read from a file (one path per line), e.g. 10,000
-- player_api.php logins of distinct lines. Usage: wrk ... -s rotate.lua URL -- PATHS_FILE
-- Requests are pre-formatted in init() so request() costs one table lookup.
local reqs, n, i = {}, 0, 0
function init(args)
   local f = assert(io.open(args[1], "r"))
   for line in f:lines() do
      if #line > 0 then n = n + 1; reqs[n] = wrk.format("GET", line) end
   end
   f:close()
   assert(n > 0, "no paths in " .. args[1])
end
function request()
   i = i + 1
   if i > n then i = 1 end
   return reqs[i]
end
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("RESULT requests=%d bytes=%d dur_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d\n",
      summary.requests, summary.bytes, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect + e.read + e.write + e.status + e.timeout))
end
