-- POST /scheduler/v1/jobs/submit, one job (about 1 KB of JSON) per request; a 200 means stored.
--   wrk -s submit.lua http://127.0.0.1:PORT -- JOBS.lua
-- JOBS.lua returns an array of job documents (HttpBenchDriver lua); requests cycle through them.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

cycle_through(function(body)
  return wrk.format("POST", "/scheduler/v1/jobs/submit", { ["Content-Type"] = "application/json" }, body)
end)
