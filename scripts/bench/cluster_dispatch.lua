-- GET /scheduler/v1/jobs/dispatch for vm boxes, a new hostname each time (no wait); counts the
-- 200s (hand-outs) apart from the rest, and prints one JSON line at the end.
--   wrk -s cluster_dispatch.lua http://127.0.0.1:PORT -- PREFIX
local threads = {}
local n = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = (args[1] or "box") .. "-" .. id .. "-"
  handed, other = 0, 0
end

function request()
  n = n + 1
  return wrk.format("GET", "/scheduler/v1/jobs/dispatch?hostname=" .. prefix .. (n % 1000)
    .. "&tbox_type=vm&freemem=16000")
end

function response(status, headers, body)
  if status == 200 then handed = handed + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local h, o = 0, 0
  for _, t in ipairs(threads) do
    h = h + t:get("handed")
    o = o + t:get("other")
  end
  io.write(string.format('{"handed":%d,"other":%d,"seconds":%.3f,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    h, o, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
