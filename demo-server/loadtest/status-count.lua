-- wrk script for demo-server: counts responses per HTTP status across all wrk threads and
-- prints requests/s, latency percentiles and the counts. Used by ../loadtest.sh; also usable
-- alone:  wrk -t2 -c64 -d15s --latency -s demo-server/loadtest/status-count.lua http://127.0.0.1:8080/api/items/42

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}          -- per wrk thread: status -> responses
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local seconds = summary.duration / 1e6
  io.write("---- demo-server load test summary ----\n")
  io.write(string.format("duration          %.1f s\n", seconds))
  io.write(string.format("responses         %d\n", summary.requests))
  io.write(string.format("requests/s        %.0f\n", summary.requests / seconds))
  io.write(string.format("latency p50       %.2f ms\n", latency:percentile(50) / 1000))
  io.write(string.format("latency p90       %.2f ms\n", latency:percentile(90) / 1000))
  io.write(string.format("latency p99       %.2f ms\n", latency:percentile(99) / 1000))
  io.write(string.format("latency p99.9     %.2f ms\n", latency:percentile(99.9) / 1000))
  io.write(string.format("latency max       %.2f ms\n", latency.max / 1000))
  local statuses = {}
  for status, _ in pairs(total) do table.insert(statuses, status) end
  table.sort(statuses)
  for _, status in ipairs(statuses) do
    io.write(string.format("status %d        %d\n", status, total[status]))
  end
  local e = summary.errors
  io.write(string.format("socket errors     connect %d, read %d, write %d, timeout %d\n",
    e.connect, e.read, e.write, e.timeout))
end
