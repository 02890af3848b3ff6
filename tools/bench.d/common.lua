-- common.lua - what every wrk script of tools/bench shares: the bearer
-- tokens (read from a file, one a line), the tally of response statuses,
-- and the summary, written as one JSON object to the file $BENCH_RESULT.
--
-- An endpoint's script (issue.lua, verify.lua, ...) requires this module,
-- then defines request() with bench.token() and friends; setup, init,
-- response and done are defined here.  The environment, set by tools/bench:
--
--   BENCH_RESULT    where done() writes the summary (JSON)
--   BENCH_EXPECT    the status every request should get (e.g. 204)
--   BENCH_THREADS   wrk's -t (each thread takes its own share of the tokens)
--   BENCH_TOKENS    a file of bearer tokens, one a line
--   BENCH_ONCE      1: each token is used once (a fresh session or a fresh
--                   challenge per request); when a thread has used its
--                   share it sends an unknown token, so the shortfall shows
--                   as 401s and "exhausted" in the summary; otherwise the
--                   tokens are used in turn, round and round
--   BENCH_API_KEY   the api-key header, when the endpoint needs one
--   BENCH_DONE_DIR  once: each thread that has used its share writes a file
--                   there (its number), so that tools/bench can end a run
--                   that only had to use every token once (a preparation)
--
-- wrk corrects the latencies it records for coordinated omission before
-- done() sees them (stats_correct: for each request slower than twice the
-- mean interval per connection it adds the requests a steady client would
-- have sent meanwhile), so p99 here is wrk's corrected p99.

bench = {}

local api_key = os.getenv("BENCH_API_KEY")
local once = os.getenv("BENCH_ONCE") == "1"
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local threads = {}

-- Runs in the setup environment, once per thread: number the threads.
function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local tokens, next_token
statuses = {}
exhausted = false

-- Runs in each thread's environment before its first request.
function init(args)
   tokens = {}
   local file = os.getenv("BENCH_TOKENS")
   if file and file ~= "" then
      local i = 0
      for line in io.lines(file) do
         -- once: this thread's share only (every nthreads-th token)
         if not once or i % nthreads == tid then
            tokens[#tokens + 1] = line
         end
         i = i + 1
      end
   end
   -- wrk calls request() once in thread 0's environment, before the run,
   -- to check what it returns (script_verify_request): in once mode that
   -- call gets a token of its own, which is never sent
   if once and tid == 0 and #tokens > 0 then
      table.insert(tokens, 1, "wrk-checks-the-first-request")
   end
   -- round and round: each thread starts at its own place
   next_token = once and 1 or (1 + math.floor(tid * #tokens / nthreads))
end

-- The next bearer token.
function bench.token()
   if next_token > #tokens then
      if once then
         if not exhausted and os.getenv("BENCH_DONE_DIR") then
            local f = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. tid, "w")
            if f then f:close() end
         end
         exhausted = true
         return "exhausted-token-supply"
      end
      next_token = 1
   end
   local t = tokens[next_token]
   next_token = next_token + 1
   return t
end

-- Headers with the api-key (if any) and the bearer token (if given).
function bench.headers(token, extra)
   local h = extra or {}
   if api_key and api_key ~= "" then h["api-key"] = api_key end
   if token then h["Authorization"] = "Bearer " .. token end
   return h
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

local function json_string(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

function done(summary, latency, requests)
   local all, good = {}, 0
   local expect = tonumber(os.getenv("BENCH_EXPECT") or "0")
   local ran_out = false
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         all[status] = (all[status] or 0) + n
         if status == expect then good = good + n end
      end
      ran_out = ran_out or thread:get("exhausted")
   end
   local parts = {}
   for status, n in pairs(all) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
   out:write(string.format(
      '{"requests": %d, "seconds": %.3f, "rps_all": %.1f, "rps": %.1f, "expect": %d, ' ..
      '"statuses": {%s}, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f, ' ..
      '"max_ms": %.3f, "socket_errors": %d, "exhausted": %s, "tool": %s}\n',
      summary.requests, seconds, summary.requests / seconds, good / seconds, expect,
      table.concat(parts, ", "), latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
      latency:percentile(99) / 1e3, latency.mean / 1e3, latency.max / 1e3,
      e.connect + e.read + e.write + e.timeout, tostring(ran_out), json_string("wrk")))
   out:close()
end

return bench
