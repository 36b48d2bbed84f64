-- GET <package path>: the job.cgz of one hand-out, built when it is downloaded; the first
-- download of each moves its job to boot (a durable write), later ones are served again while
-- the job is booting.
--   wrk -s package.lua http://127.0.0.1:PORT -- PATHS.lua
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

cycle_through(function(path)
  return wrk.format("GET", path)
end)
