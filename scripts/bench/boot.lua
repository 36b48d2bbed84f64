-- A bare-metal box as it boots: GET /boot.ipxe/mac/<mac>?sched_host=..&sched_port=.. (no wait),
-- 200 with the iPXE script of a hand-out or 404 "No job now"; after a script, the box's next
-- request fetches the package it names (the first download moves the job to boot, durably).
-- A box that asked again without fetching would give its job back (it booted again), so each
-- box fetches before its MAC comes round again, as a real one does. The package paths are
-- kept and, in done(), appended as a Lua array to the file named by wrk's second script
-- argument (the again phase downloads them once more).
--   wrk -s boot.lua http://127.0.0.1:PORT -- MACS.lua PATHS.lua
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local count_status = response
local common_setup = setup
local common_done = done
local all_threads = {}
paths = {}
-- per thread: answers by kind (boot_200, boot_404, package_200, other), read in done()
kinds = {}
out_file = nil
-- package paths named by scripts and not fetched yet, fetched before the next boot
local pending = {}

function setup(thread)
  common_setup(thread)
  table.insert(all_threads, thread)
end

-- each thread boots boxes of its own (bench.sh runs wrk with -t2: each takes half of them), so
-- that no box boots on one thread while its package is still to be fetched on the other
local boots, i
function init(args)
  boots = {}
  local macs = dofile(args[1])
  local half = math.floor(#macs / 2)
  local first = id == 1 and 1 or half + 1
  local last = id == 1 and half or #macs
  for k = first, last do
    boots[#boots + 1] = wrk.format("GET", "/boot.ipxe/mac/" .. macs[k] .. "?sched_host=" .. wrk.host .. "&sched_port=" .. wrk.port)
  end
  i = 0
  out_file = args[2]
end

function request()
  local p = table.remove(pending)
  if p then
    return wrk.format("GET", p)
  end
  i = i % #boots + 1
  return boots[i]
end

local function count(kind)
  kinds[kind] = (kinds[kind] or 0) + 1
end

function response(status, headers, body)
  count_status(status, headers, body)
  if status == 200 and body:sub(1, 6) == "#!ipxe" then
    count("boot_200")
    local p = body:match("initrd http://[^/]+(/scheduler/v1/packages/[^/]+/job%.cgz)")
    if p then
      paths[#paths + 1] = p
      pending[#pending + 1] = p
    end
  elseif status == 200 and body:byte(1) == 0x1f and body:byte(2) == 0x8b then
    count("package_200")
  elseif status == 404 and body:find("No job", 1, true) then
    count("boot_404")
  else
    count("other")
  end
end

function done(summary, latency, requests)
  common_done(summary, latency, requests)
  local f = io.open(all_threads[1]:get("out_file"), "w")
  f:write("return {\n")
  for _, t in ipairs(all_threads) do
    for _, p in ipairs(t:get("paths")) do
      f:write('"', p, '",\n')
    end
  end
  f:write("}\n")
  f:close()
end
