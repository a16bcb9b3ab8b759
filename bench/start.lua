-- wrk script for bench/run.sh: unsigned StartModel requests, as an
-- application sends them to the proxy.
--
--   BENCH_PATH          request target (default: a valid StartModel route)
--   BENCH_MAX_REQUESTS  stop each wrk thread after this many responses
--                       (the soak: a bounded count; -d stays the time bound)
--   BENCH_DONE_FILE     created when a thread has stopped so: wrk's main
--                       thread sleeps out -d, run.sh then sends it SIGINT
--
-- At the end one line is printed for run.sh to parse:
--   RESULT requests=N duration_us=N rps=N p50_us=N p99_us=N max_us=N ...

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
           or "/2020-11-20/projects/bench-project/models/1/start"
wrk.body = '{"MinInferenceUnits":1}'
wrk.headers["Content-Type"] = "application/json"

local limit = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0") or 0
local done_file = os.getenv("BENCH_DONE_FILE")

if limit > 0 then
    local n = 0

    -- only defined when needed: wrk parses headers for it otherwise
    response = function(status, headers, body)
        n = n + 1
        if n == limit then
            if done_file then
                local f = io.open(done_file, "w")
                if f then f:close() end
            end
            wrk.thread:stop()
        end
    end
end

done = function(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6

    io.write(string.format(
        "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d "
        .. "p99_us=%d max_us=%d mean_us=%.1f connect_err=%d read_err=%d "
        .. "write_err=%d status_err=%d timeout_err=%d\n",
        summary.requests, summary.duration, summary.requests / secs,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean,
        e.connect, e.read, e.write, e.status, e.timeout))
end
