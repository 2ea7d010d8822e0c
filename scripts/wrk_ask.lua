-- wrk script: POST /v1/ask with a distinct question each time (no query-embedding cache hits).
-- Used by scripts/load_benchmark.py --wrk; questions come from eval/nectain/queries.jsonl.
local questions = {}
for line in io.lines(os.getenv("NECTARINE_QUESTIONS") or "eval/nectain/queries.jsonl") do
  local text = line:match('"text": "(.-[^\\])"')
  if text then questions[#questions + 1] = text end
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Site-Key"] = "demo-public-key"
request = function()
  n = n + 1
  local q = questions[(n % #questions) + 1]
  return wrk.format(nil, "/v1/ask", nil, '{"question": "' .. q .. ' (ref ' .. n .. '-' .. math.random(1e9) .. ')"}')
end
done = function(summary, latency, requests)
  io.write(string.format("WRK p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f requests=%d errors=%d req_per_s=%.1f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6)))
end
