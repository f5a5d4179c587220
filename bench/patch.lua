-- wrk script: every thread (one connection each) PATCHes its own contact, always with the ETag of its
-- own last answer, so every write passes If-Match. Paths come as arguments, one per thread.
local threads, next_thread = {}, 0
function setup(thread)
  thread:set("index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  path = args[(index % #args) + 1]
  etag = nil
  n = 0
  auth = "Bearer " .. os.getenv("RBN_BENCH_KEY")
end

function request()
  if etag == nil then
    return wrk.format("GET", path, { ["Authorization"] = auth })
  end
  n = n + 1
  local body = '{"function":"Koordination ' .. n .. '"}'
  return wrk.format("PATCH", path, {
    ["Authorization"] = auth,
    ["If-Match"] = etag,
    ["Content-Type"] = "application/merge-patch+json",
  }, body)
end

function response(status, headers, body)
  etag = headers["etag"] or headers["ETag"] or etag
end
