-- POST /scheduler/v1/jobs/submit, one job (about 1 KB of JSON) per request; a 200 means stored.
--   wrk -s submit.lua http://127.0.0.1:PORT -- JOBS.lua
-- JOBS.lua returns an array of job documents (HttpBenchDriver lua); requests cycle through them.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

-- the account's token (scripts/bench.sh exports the admin's as BENCH_TOKEN): submits need one
local auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")

cycle_through(function(body)
  return wrk.format("POST", "/scheduler/v1/jobs/submit",
    { ["Content-Type"] = "application/json", ["Authorization"] = auth }, body)
end)
