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
   -- an empty body, so that wrk sends Content-Length: 0 (lighttpd wants it)
   return wrk.format("POST", "/stepup/challenges/otp/SMS",
                     { ["api-key"] = api_key, ["Authorization"] = "Bearer " .. token }, "")
end
