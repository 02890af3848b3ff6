-- login.lua - POST /login_with_password for the users of $BENCH_EMAILS
-- (one address a line) in turn, all with the password $BENCH_PASSWORD.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")
local password = os.getenv("BENCH_PASSWORD")
local emails, next_email

local common_init = init
function init(args)
   common_init(args)
   emails = {}
   for line in io.lines(os.getenv("BENCH_EMAILS")) do emails[#emails + 1] = line end
   next_email = 1 + math.floor(tid * #emails / tonumber(os.getenv("BENCH_THREADS") or "1"))
end

request = function()
   if next_email > #emails then next_email = 1 end
   local body = '{"email": "' .. emails[next_email] .. '", "password": {"value": "' .. password .. '"}}'
   next_email = next_email + 1
   return wrk.format("POST", "/login_with_password",
                     bench.headers(nil, { ["Content-Type"] = "application/json" }), body)
end
