-- POST /scheduler/v1/jobs/submit, one job (about 1 KB of JSON) per request; a 200 means stored.
--   wrk -s submit.lua http://127.0.0.1:PORT -- JOBS.lua
-- JOBS.lua returns an array of job documents (HttpBenchDriver lua); requests cycle through them.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

-- the account's token (scripts/bench.sh exports the admin's as BENCH_TOKEN): submits need one
local auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")

-- BENCH_SUBMIT_COUNT=N: each of the 2 wrk threads stops after N / 2 answers and writes the time
-- (ns since the epoch) into the file BENCH_SUBMIT_MARK.<thread id>; wrk itself runs on until its
-- duration or a SIGINT (scripts/bench.sh cold sends one once both files are there)
local per_thread = tonumber(os.getenv("BENCH_SUBMIT_COUNT") or "")
if per_thread then
  per_thread = math.ceil(per_thread / 2)
  local answered = 0
  local count = response
  function response(status, headers, body)
    count(status, headers, body)
    answered = answered + 1
    if answered == per_thread then
      local clock = io.popen("date +%s%N")
      local now = clock:read("*l")
      clock:close()
      local mark = io.open(os.getenv("BENCH_SUBMIT_MARK") .. "." .. id, "w")
      mark:write(now)
      mark:close()
      wrk.thread:stop()
    end
  end
end

cycle_through(function(body)
  return wrk.format("POST", "/scheduler/v1/jobs/submit",
    { ["Content-Type"] = "application/json", ["Authorization"] = auth }, body)
end)
