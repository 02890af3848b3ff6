-- health.lua - GET /health: the web server, FastCGI, a worker and one
-- round trip to PostgreSQL, and nothing else of stepup.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local bench = require("common")

request = function()
   return wrk.format("GET", "/health")
end
