-- wrk script: POST /stepup/challenges/otp/SMS, rotating over many sessions.
-- Reads BENCH_API_KEY and the file named by BENCH_TOKENS (one token a line).
local api_key = os.getenv("BENCH_API_KEY")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
   tokens[#tokens + 1] = line
end
local counter = 0

request = function()
   counter = counter + 1
   local token = tokens[(counter % #tokens) + 1]
   return wrk.format("POST", "/stepup/challenges/otp/SMS",
                     { ["api-key"] = api_key, ["Authorization"] = "Bearer " .. token })
end

local statuses = {}
response = function(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
   io.write(string.format("statuses:"))
   for k, v in pairs(statuses) do io.write(string.format(" %d=%d", k, v)) end
   io.write("\n")
end
