-- Shared by the phase scripts of scripts/bench.sh http (loaded with dofile).
-- Counts answers per HTTP status in each thread and, in done(), prints one JSON line:
--   {"wrk":{"duration_s":..,"requests":..,"status":{"200":..,"204":..},"errors":{..},
--           "p50_ms":..,"p90_ms":..,"p99_ms":..,"max_ms":..,"mean_ms":..}}
-- The latency figures are wrk's, over every answer (wrk has one histogram per run).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads) -- 1, 2, ...: the request scripts start each thread elsewhere
end

-- per thread (each wrk thread has its own Lua state); read back with thread:get in done()
statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- A thread's starting offset into a list of n items: threads begin far apart.
function start_index(n)
  return math.floor((id - 1) * n / 2) % n
end

-- Requests made once per thread from the items of the Lua file named by wrk's first script
-- argument (format turns an item into a request), then sent in turn.
function cycle_through(format)
  local reqs, i
  function init(args)
    reqs = {}
    for k, item in ipairs(dofile(args[1])) do
      reqs[k] = format(item)
    end
    i = start_index(#reqs)
  end
  function request()
    i = i % #reqs + 1
    return reqs[i]
  end
end

local function ms(us)
  return string.format("%.3f", us / 1000)
end

-- The per-thread counts of table NAME (key -> n) summed over the threads, as JSON members
-- ("key":n, sorted, comma-joined); a thread without the table counts nothing.
local function summed(name)
  local sums = {}
  for _, t in ipairs(threads) do
    for key, n in pairs(t:get(name) or {}) do
      sums[key] = (sums[key] or 0) + n
    end
  end
  local parts = {}
  for key, n in pairs(sums) do
    table.insert(parts, string.format('"%s":%d', tostring(key), n))
  end
  table.sort(parts)
  return table.concat(parts, ",")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk":{"duration_s":%.3f,"requests":%d,"status":{%s},"kinds":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
      .. '"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"max_ms":%s,"mean_ms":%s}}\n',
    -- answers by status, and by kind where a phase script keeps a per-thread table "kinds"
    summary.duration / 1e6, summary.requests, summed("statuses"), summed("kinds"),
    e.connect, e.read, e.write, e.timeout, e.status,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency.max), ms(latency.mean)))
end
