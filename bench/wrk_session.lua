-- wrk script of bench/http_bench.py: every request carries one of the session cookies listed
-- (one "name=value" a line) in the file given after "--", taken in turn, so each request reads
-- and writes a real session; done() prints one JSON line with the totals and percentiles.
local requests = {}
local turn = 0

function init(args)
  local path = args[1]
  if path then
    for line in io.lines(path) do
      if #line > 0 then
        requests[#requests + 1] = wrk.format("GET", "/", { Cookie = line })
      end
    end
  end
  if #requests == 0 then
    requests[1] = wrk.format("GET", "/")
  end
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end

function done(summary, latency, _)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
