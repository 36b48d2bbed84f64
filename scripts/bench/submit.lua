-- POST /scheduler/v1/jobs/submit, one job (about 1 KB of JSON) per request; a 200 means stored.
--   wrk -s submit.lua http://127.0.0.1:PORT -- JOBS.lua
-- JOBS.lua returns an array of job documents (HttpBenchDriver lua); requests cycle through them.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local reqs, i

function init(args)
  local jobs = dofile(args[1])
  reqs = {}
  for k, body in ipairs(jobs) do
    reqs[k] = wrk.format("POST", "/scheduler/v1/jobs/submit",
      { ["Content-Type"] = "application/json" }, body)
  end
  i = start_index(#reqs)
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
