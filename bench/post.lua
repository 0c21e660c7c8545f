-- wrk script: POST the request body that personagen sends for one persona (bench/run.sh renders
-- it with `personagen render` into the file named by $BENCH_BODY), as personagen does.
local path = os.getenv("BENCH_BODY")
local file = assert(io.open(path, "rb"), "BENCH_BODY: cannot open " .. tostring(path))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
