-- wrk script for bench/run.sh: builds the GraphQL POST bodies of one scenario and counts GraphQL errors.
--
-- A GraphQL error comes back as HTTP 200 with an "errors" member, which wrk alone would count as a success:
-- response() counts such bodies, and done() prints one machine-readable line
--   BENCH_RESULT {"requests":…,"rps":…,"p50_ms":…,"p99_ms":…,"gql_errors":…,…}
-- that run.sh parses. Non-2xx answers and socket errors are counted by wrk itself (summary.errors).
--
-- Configured through the environment (each wrk thread runs its own copy of this script):
--   BENCH_MODE      post | root | login | mixed | rootvote | ping | bodies
--   BENCH_BODIES    file with one complete JSON request body per line, picked at random (bodies)
--   BENCH_IDS       file with one post global id per line (post, mixed)
--   BENCH_CATEGORY  global id of the category to list (root, rootvote)
--   BENCH_LOGIN     user name to log in as (login); the password is BENCH_PASSWORD (default demo-password)
--   BENCH_TOKENS    file with one access token per line. post, root: when set, every read is signed in,
--                   the tokens taken in turn (unset: anonymous, the same document). mixed: writes are sent
--                   as these users. rootvote: reads and votes are sent as these users.
--   BENCH_READS     anonymous: rootvote's reads are sent without a token (the votes still as BENCH_TOKENS)
--   BENCH_VOTE_IDS  file with one post global id per line: the posts rootvote votes on (the listed page's)
--   BENCH_WRITE_PCT share of writes in mixed and rootvote, in percent (default 10)
--
-- mixed, rootvote: one request in 100 / BENCH_WRITE_PCT is a write (the first of each thread, then evenly
-- spaced), so even a run of seconds writes.
-- rootvote: reads are the signed-in root page; the writes go by pairs, member after member: a member's
-- votePost, then its unvotePost, on a post of its own (one per member and wrk thread; distinct while wrk
-- threads × members ≤ the posts of BENCH_VOTE_IDS, 2 × 8 ≤ 20 in run.sh): every write changes a count, and
-- no count grows without bound (a vote is idempotent, so colliding members only make some writes no-ops).

local mode = os.getenv("BENCH_MODE") or "post"
local write_pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "10")

-- The read documents are the same signed in and anonymous (viewerHasVoted is false for an anonymous
-- reader): scenarios that differ only by the Authorization header compare what signing in costs.
-- bench/run.sh sends the same texts for its sample requests.
local POST_BY_ID = "query PostById($id: ID!) { post(id: $id) "
  .. "{ title content author { name } category { name } voteCount viewerHasVoted } }"
local ROOT_PAGE = "query RootPage($categoryId: ID!) { posts(categoryId: $categoryId, first: 20) "
  .. "{ edges { node { id title voteCount viewerHasVoted commentCount author { name } category { name } } } } }"
local LOGIN = "mutation Login($login: String!, $password: String!) "
  .. "{ login(input: { login: $login, password: $password }) { accessToken } }"
local CREATE_COMMENT = "mutation CreateComment($postId: ID!, $content: String!) "
  .. "{ createComment(input: { postId: $postId, content: $content }) { comment { id } } }"
local VOTE_POST = "mutation VotePost($postId: ID!) { votePost(input: { postId: $postId }) { post { voteCount viewerHasVoted } } }"
local UNVOTE_POST = "mutation UnvotePost($postId: ID!) "
  .. "{ unvotePost(input: { postId: $postId }) { post { voteCount viewerHasVoted } } }"
local PING = "query Ping { ping }"

-- Bodies only ever interpolate base64 ids, JWTs and seed user names: no JSON escaping needed.
local function body(operation, query, variables)
  return string.format('{"operationName":"%s","query":"%s","variables":{%s}}', operation, query, variables)
end

local function lines(path)
  local out = {}
  if not path then return out end
  local f = io.open(path, "r")
  if not f then error("cannot open " .. path) end
  for line in f:lines() do
    if #line > 0 then out[#out + 1] = line end
  end
  f:close()
  return out
end

-- ---- main state: one entry per thread, to sum the per-thread counters in done() ----
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("bench_tid", next_id)
  threads[#threads + 1] = thread
end

-- ---- thread state ----
local reads = {}     -- prebuilt read requests
local tokens = {}
local ids = {}
local vote_ids = {}
local fixed = nil    -- the one request of fixed-body modes
local signed = {}    -- signed-in reads: signed[k] is the list of reads sent with tokens[k]
local turn = 0       -- signed-in reads sent (which token is next)
local sent = 0       -- requests of this thread (which ones are writes)
-- globals, not locals: done() reads them from each thread's state with thread:get()
gql_errors = 0
responses = 0
writes = 0
comments = 0
votes = 0
unvotes = 0
sample_error = ""
local counter = 0
local tid = 0

local json_headers = { ["Content-Type"] = "application/json" }

local function auth_headers(token)
  return { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

function init(args)
  tid = tonumber(wrk.thread:get("bench_tid")) or 0
  math.randomseed(os.time() * 1000 + tid * 7919)
  wrk.method = "POST"
  wrk.path = "/graphql"
  local read_bodies = {}
  if mode == "post" or mode == "mixed" then
    ids = lines(os.getenv("BENCH_IDS"))
    if #ids == 0 then error("BENCH_IDS is empty") end
    for i, id in ipairs(ids) do
      read_bodies[i] = body("PostById", POST_BY_ID, string.format('"id":"%s"', id))
    end
  elseif mode == "root" or mode == "rootvote" then
    read_bodies[1] = body("RootPage", ROOT_PAGE, string.format('"categoryId":"%s"', os.getenv("BENCH_CATEGORY")))
  elseif mode == "login" then
    fixed = wrk.format("POST", "/graphql", json_headers,
      body("Login", LOGIN, string.format('"login":"%s","password":"%s"',
        os.getenv("BENCH_LOGIN"), os.getenv("BENCH_PASSWORD") or "demo-password")))
  elseif mode == "ping" then
    fixed = wrk.format("POST", "/graphql", json_headers, body("Ping", PING, ""))
  elseif mode == "bodies" then
    read_bodies = lines(os.getenv("BENCH_BODIES"))
    if #read_bodies == 0 then error("BENCH_BODIES is empty") end
  else
    error("unknown BENCH_MODE " .. mode)
  end
  tokens = lines(os.getenv("BENCH_TOKENS"))
  if (mode == "mixed" or mode == "rootvote") and #tokens == 0 then error("BENCH_TOKENS is empty") end
  if mode == "rootvote" then
    vote_ids = lines(os.getenv("BENCH_VOTE_IDS"))
    if #vote_ids == 0 then error("BENCH_VOTE_IDS is empty") end
  end
  local anonymous_reads = os.getenv("BENCH_READS") == "anonymous"
  if #tokens > 0 and not anonymous_reads and (mode == "post" or mode == "root" or mode == "rootvote") then
    for k, token in ipairs(tokens) do
      signed[k] = {}
      for i, b in ipairs(read_bodies) do
        signed[k][i] = wrk.format("POST", "/graphql", auth_headers(token), b)
      end
    end
  else
    for i, b in ipairs(read_bodies) do
      reads[i] = wrk.format("POST", "/graphql", json_headers, b)
    end
  end
end

local function write_request()
  writes = writes + 1
  local token = tokens[math.random(#tokens)]
  local post = ids[math.random(#ids)]
  local headers = auth_headers(token)
  if writes % 2 == 1 then
    comments = comments + 1
    counter = counter + 1
    return wrk.format("POST", "/graphql", headers, body("CreateComment", CREATE_COMMENT,
      string.format('"postId":"%s","content":"bench comment %d-%d"', post, tid, counter)))
  else
    votes = votes + 1
    return wrk.format("POST", "/graphql", headers, body("VotePost", VOTE_POST,
      string.format('"postId":"%s"', post)))
  end
end

-- rootvote's write: writes 1 and 2 are member 1's vote for its post and the vote taken back, 3 and 4 member
-- 2's, and so on in turn.
local function vote_request()
  writes = writes + 1
  local k = math.floor((writes - 1) / 2) % #tokens + 1
  local post = vote_ids[((tid - 1) * #tokens + k - 1) % #vote_ids + 1]
  local variables = string.format('"postId":"%s"', post)
  if writes % 2 == 1 then
    votes = votes + 1
    return wrk.format("POST", "/graphql", auth_headers(tokens[k]), body("VotePost", VOTE_POST, variables))
  end
  unvotes = unvotes + 1
  return wrk.format("POST", "/graphql", auth_headers(tokens[k]), body("UnvotePost", UNVOTE_POST, variables))
end

function request()
  if fixed then return fixed end
  sent = sent + 1
  local write = (sent - 1) * write_pct % 100 < write_pct
  if mode == "mixed" and write then
    return write_request()
  end
  if mode == "rootvote" and write then
    return vote_request()
  end
  if #signed > 0 then
    turn = turn + 1
    local list = signed[(turn - 1) % #signed + 1]
    return list[math.random(#list)]
  end
  return reads[math.random(#reads)]
end

function response(status, headers, resp_body)
  responses = responses + 1
  if status == 200 and resp_body and string.find(resp_body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    if sample_error == "" then sample_error = string.sub(resp_body, 1, 400) end
  elseif status ~= 200 and sample_error == "" then
    sample_error = "HTTP " .. status .. ": " .. string.sub(resp_body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local gql, resp, w, c, v, u = 0, 0, 0, 0, 0, 0
  local samples = {}
  for _, t in ipairs(threads) do
    gql = gql + (tonumber(t:get("gql_errors")) or 0)
    resp = resp + (tonumber(t:get("responses")) or 0)
    w = w + (tonumber(t:get("writes")) or 0)
    c = c + (tonumber(t:get("comments")) or 0)
    v = v + (tonumber(t:get("votes")) or 0)
    u = u + (tonumber(t:get("unvotes")) or 0)
    local s = t:get("sample_error")
    if s and s ~= "" then samples[#samples + 1] = s end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,'
      .. '"max_ms":%.3f,"gql_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
      .. '"status_errors":%d,"timeouts":%d,"responses_checked":%d,"writes_sent":%d,"comments_sent":%d,"votes_sent":%d,'
      .. '"unvotes_sent":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, gql, e.connect, e.read, e.write, e.status, e.timeout, resp, w, c, v, u))
  for _, s in ipairs(samples) do
    io.write("BENCH_SAMPLE_ERROR " .. string.gsub(s, "\n", " ") .. "\n")
  end
end
