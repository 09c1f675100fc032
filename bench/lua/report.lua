-- Prints wrk's summary as one machine-readable line (used by bench/lib.sh run_wrk).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("RESULT requests=%d bytes=%d dur_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d\n",
      summary.requests, summary.bytes, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect + e.read + e.write + e.status + e.timeout))
end
