-- GET /boot.ipxe/mac/<mac>?sched_host=..&sched_port=.. (no wait): 200 with the iPXE script of a
-- hand-out, 404 "No job now". The package path each script names is kept and, in done(),
-- appended as a Lua array to the file named by wrk's second script argument (the package phase
-- downloads them).
--   wrk -s boot.lua http://127.0.0.1:PORT -- MACS.lua PATHS.lua
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local count_status = response
local common_setup = setup
local common_done = done
local all_threads = {}
paths = {}
out_file = nil

function setup(thread)
  common_setup(thread)
  table.insert(all_threads, thread)
end

cycle_through(function(mac)
  return wrk.format("GET", "/boot.ipxe/mac/" .. mac .. "?sched_host=" .. wrk.host .. "&sched_port=" .. wrk.port)
end)
local cycle_init = init
function init(args)
  cycle_init(args)
  out_file = args[2]
end

function response(status, headers, body)
  count_status(status, headers, body)
  if status == 200 then
    local p = body:match("initrd http://[^/]+(/scheduler/v1/packages/[^/]+/job%.cgz)")
    if p then
      paths[#paths + 1] = p
    end
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
