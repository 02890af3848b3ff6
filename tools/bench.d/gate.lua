-- gate.lua - GET /legacy/ through the step-up gate (the FastCGI Authorizer):
-- sessions stepped up moments before, of a programme that lists the gate;
-- no api-key.  200 is the gate letting the request through to the page.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")

request = function()
   return wrk.format("GET", "/legacy/", bench.headers(bench.token()))
end
