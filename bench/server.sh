# shellcheck shell=bash disable=SC2016,SC2034
# Sourced by the bench/ scripts from the repository root.
# start_server DIR: renders bench/nginx.conf.in into DIR, starts nginx with one worker on a free
# 127.0.0.1 port ($PORT if set), waits until it answers with bench/completion.json (and /solve/
# with bench/completion-solve.json), and stops it when the calling script exits, at niceness $NICE
# (default 0). Sets base (http://127.0.0.1:PORT), nginx_pid and nginx_worker.
# add_on_exit COMMAND: runs COMMAND when the calling script exits, after those added later.
on_exit=""
add_on_exit() {
  on_exit="$1; $on_exit"
  trap 'eval "$on_exit"' EXIT
}

start_server() {
  local prefix=$1 port module
  module=$(dpkg -L libnginx-mod-http-echo | grep -m1 '/ngx_http_echo_module\.so$')
  # A port the kernel just handed out and nobody holds; nginx fails loudly if it was taken since.
  port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')}
  rm -rf "$prefix" && mkdir -p "$prefix"
  python3 - "$prefix" "$port" "$module" <<'EOF'
import pathlib, sys
prefix, port, module = sys.argv[1:4]


def reply(name):
    text = pathlib.Path("bench", name).read_text().strip()
    if "$" in text or "\n" in text:
        sys.exit(f"bench/{name}: must be one line without '$' (echo expands variables)")
    # Inside an nginx single-quoted string a backslash escapes the next character.
    return text.replace("\\", "\\\\").replace("'", "\\'")


conf = pathlib.Path("bench/nginx.conf.in").read_text()
for key, value in {"@PREFIX@": prefix, "@PORT@": port, "@ECHO_MODULE@": module,
                   "@COMPLETION_SOLVE@": reply("completion-solve.json"),
                   "@COMPLETION@": reply("completion.json")}.items():
    conf = conf.replace(key, value)
pathlib.Path(prefix, "nginx.conf").write_text(conf)
EOF
  nice -n "${NICE:-0}" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
  nginx_pid=$!
  add_on_exit 'kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null || true'
  base=http://127.0.0.1:$port
  for _ in $(seq 50); do
    curl -sf -o "$prefix/reply.json" -X POST -H 'Content-Type: application/json' -d '{}' \
      "$base/v1/chat/completions" && break
    sleep 0.1
  done
  if [ "$(tr -d '\n' <"$prefix/reply.json" 2>/dev/null)" != "$(tr -d '\n' <bench/completion.json)" ]
  then
    cat "$prefix/error.log" >&2
    echo "bench: nginx does not answer with bench/completion.json" >&2
    exit 1
  fi
  curl -sf -o "$prefix/reply-solve.json" -X POST -H 'Content-Type: application/json' -d '{}' \
    "$base/solve/v1/chat/completions" || true
  if [ "$(tr -d '\n' <"$prefix/reply-solve.json" 2>/dev/null)" != \
    "$(tr -d '\n' <bench/completion-solve.json)" ]; then
    cat "$prefix/error.log" >&2
    echo "bench: nginx does not answer /solve/ with bench/completion-solve.json" >&2
    exit 1
  fi
  nginx_worker=$(pgrep -P "$nginx_pid" | head -n 1)
}

# time_figures FILE: "WALL CPU RSS_MB" from GNU time -v's report FILE: wall and CPU (user + system)
# seconds, and the peak RSS in MB.
time_figures() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time/ || /System time/ { c += $2 }
    /Maximum resident set size/ { m = $2 / 1024 }
    END { printf "%.2f %.2f %.1f\n", w, c, m }' "$1"
}

# personagen_binary LOGDIR: sets pg to $PERSONAGEN, or builds build/bench-release (Release) and
# sets pg to it; the build log goes to LOGDIR/build.log.
personagen_binary() {
  if [ -n "${PERSONAGEN:-}" ]; then
    pg=$(realpath "$PERSONAGEN")
    return
  fi
  echo "bench: building build/bench-release (Release)" >&2
  # -Wno-error=restrict: GCC 12 at -O3 reports a false -Wrestrict inside std::string (GCC bug
  # 105329); it stays a warning here so the benchmark measures a real Release build.
  scripts/build.sh bench-release -DCMAKE_BUILD_TYPE=Release -DPERSONAGEN_TESTS=OFF \
    -DCMAKE_CXX_FLAGS=-Wno-error=restrict >"$1/build.log" 2>&1 ||
    { tail -n 30 "$1/build.log" >&2; echo "bench: build failed (log: $1/build.log)" >&2; exit 1; }
  pg=$PWD/build/bench-release/personagen
}

# personas_file DIR N: a file of N deterministic personas in DIR (bench/gen_personas.py), made
# once and kept. records_file DIR N: the same for N math-problem records, the input of
# `synth -t solve` (bench/gen_records.py). Every such file is a prefix of the largest one of its
# kind, so it is cut from any larger file already there.
personas_file() { input_file personas "$@"; }
records_file() { input_file records "$@"; }
input_file() {
  local kind=$1 dir=$2 n=$3 f larger
  f=$dir/$kind-$n.jsonl
  if [ ! -f "$f" ] || [ "$(wc -l <"$f")" != "$n" ]; then
    larger=$(find "$dir" -maxdepth 1 -name "$kind-*.jsonl" |
      sed -n "s/.*$kind-\([0-9]*\)\.jsonl\$/\1/p" | sort -n | awk -v n="$n" '$1 > n { print; exit }')
    if [ -n "$larger" ]; then
      head -n "$n" "$dir/$kind-$larger.jsonl" >"$f.tmp" && mv "$f.tmp" "$f"
    else
      echo "bench: writing $n $kind" >&2
      "bench/gen_$kind.py" "$n" "$f"
    fi
  fi
  echo "$f"
}
