-- GET /scheduler/v1/jobs/dispatch?hostname=..&arch=..&tbox_type=..&tags=..&freemem=.. (no wait):
-- 200 with a job, 204 when nothing fits that box now.
--   wrk -s dispatch.lua http://127.0.0.1:PORT -- BOXES.lua
-- BOXES.lua returns the 1,000 testboxes' query strings (HttpBenchDriver lua); requests cycle
-- through them, so every box asks about equally often.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

cycle_through(function(query)
  return wrk.format("GET", "/scheduler/v1/jobs/dispatch?" .. query)
end)
