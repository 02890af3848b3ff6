-- logout.lua - POST /logout, each request a fresh session (BENCH_ONCE=1).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")

request = function()
   return wrk.format("POST", "/logout", bench.headers(bench.token()), "")
end
