-- GET / on StackServer: a Pekko HTTP route that only answers complete("ok"), the stack's own
-- limit with this client and these JVM options.
--   wrk -s stack.lua http://127.0.0.1:PORT
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

wrk.path = "/"
