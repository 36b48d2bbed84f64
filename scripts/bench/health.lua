-- GET /scheduler/v1/health: the HTTP stack's own limit (a round trip to the persistence actor).
--   wrk -s health.lua http://127.0.0.1:PORT
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

wrk.path = "/scheduler/v1/health"
