-- issue.lua - POST /stepup/challenges/otp/SMS, one session after another
-- (BENCH_TOKENS; BENCH_ONCE=1 for one challenge per session), with the
-- programme's api-key.  Also baselines A and B, which get the same request.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")

request = function()
   -- an empty body, so that wrk sends Content-Length: 0 (lighttpd wants it)
   return wrk.format("POST", "/stepup/challenges/otp/SMS", bench.headers(bench.token()), "")
end
