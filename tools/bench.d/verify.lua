-- verify.lua - POST /stepup/challenges/otp/SMS/verify with the code
-- $BENCH_CODE: a wrong one over sessions used round and round (each a
-- pending challenge that never locks: --verify-attempts off), or the right
-- one once per session (BENCH_ONCE=1, each a fresh pending challenge).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")
local body = '{"verificationCode": "' .. os.getenv("BENCH_CODE") .. '"}'

request = function()
   return wrk.format("POST", "/stepup/challenges/otp/SMS/verify",
                     bench.headers(bench.token(), { ["Content-Type"] = "application/json" }), body)
end
