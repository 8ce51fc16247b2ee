#!/usr/bin/env bash
# llm-proxy benchmark: the upstream directly vs nginx as a plain reverse proxy vs the data plane,
# in one run, on 127.0.0.1 only. See bench/README.md.
#
# Env knobs:
#   LLMPROXY_BENCH_BIN_DIR  binaries (default <repo>/build-bench/bin; built Release if missing)
#   BENCH_DURATION          seconds per wrk run (default 10)
#   BENCH_CONCURRENCY       connection counts (default "1 16 64")
#   BENCH_PACED             moderate-load cells as connections:pause_ms (default "16:1 16:2": 16
#                           connections, each pausing 1 ms / 2 ms after every answer)
#   BENCH_PGO               1 (default): when the binaries are missing, build them profile-guided
#                           (scripts/build_pgo.sh); 0: a plain Release build
#   BENCH_THREADS           data plane --threads and nginx proxy worker_processes (default 1: on a
#                           2-core box wrk and the upstream take about one core, and nginx given 2
#                           workers served a whole burst of connections on one; see bench/README.md)
#   BENCH_ROUNDS            full-load nginx / data plane cells per concurrency, alternating (default 3)
#   BENCH_PACED_ROUNDS      rounds of the moderate-load cells (direct, then nginx and the data plane
#                           alternating; default 3)
#   BENCH_TTFT_N            streamed requests per TTFT target (default 300)
#   BENCH_TTFT_SLOW_N       the same for the paced stream (10 ms between chunks; default 50)
#   BENCH_IDLE_CONNS        idle keep-alive connections for the memory test (default 10000)
#   BENCH_INSTR_N           requests counted for instructions per request (default 3000)
#   BENCH_SKIP              space-separated parts to skip: rps paced ttft idle instr
#   BENCH_OUT               output directory (default <repo>/bench/results/<UTC timestamp>)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BIN_DIR=${LLMPROXY_BENCH_BIN_DIR:-$ROOT/build-bench/bin}
DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
PACED=${BENCH_PACED:-"16:1 16:2"}
THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-3}
PACED_ROUNDS=${BENCH_PACED_ROUNDS:-3}
TTFT_N=${BENCH_TTFT_N:-300}
TTFT_SLOW_N=${BENCH_TTFT_SLOW_N:-50}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
INSTR_N=${BENCH_INSTR_N:-3000}
SKIP=" ${BENCH_SKIP:-} "
OUT=${BENCH_OUT:-$BENCH/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/llmproxy-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; done  # a paused control plane
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for f in "$WORK"/nginx-*/nginx.pid; do [[ -f $f ]] && kill -QUIT "$(cat "$f")" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------- tools
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx)
[[ $SKIP == *" instr "* ]] || command -v callgrind_control >/dev/null || need_apt+=(valgrind)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

if [[ ! -x $BIN_DIR/llm-proxy-dataplane || ! -x $BIN_DIR/llm-proxy-controlplane || ! -x $BIN_DIR/llm-proxy ]]; then
  if [[ ${BENCH_PGO:-1} == 1 ]]; then
    log "building a profile-guided Release build into $ROOT/build-bench (scripts/build_pgo.sh, -j2)"
    BUILD_DIR="$ROOT/build-bench" JOBS=2 "$ROOT/scripts/build_pgo.sh"
  else
    log "building a Release build into $ROOT/build-bench (-j2)"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$ROOT/build-bench" -j2 llm-proxy-dataplane llm-proxy-controlplane llm-proxy
  fi
  BIN_DIR=$ROOT/build-bench/bin
fi
# How the data plane was built: "pgo" (profile-guided) or "plain", from its build tree.
BUILD_KIND=$(sed -n 's/^LLMPROXY_PGO:STRING=use$/pgo/p' "$BIN_DIR/../CMakeCache.txt" 2>/dev/null)
BUILD_KIND=${BUILD_KIND:-plain}

ulimit -n "$(ulimit -Hn)" || true
log "open files limit: $(ulimit -n)"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() {  # url [expected status] [seconds] [curl options...]
  local url=$1 want=${2:-200} secs=${3:-20} i
  shift $(($# < 3 ? $# : 3))
  for ((i = 0; i < secs * 20; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true) == "$want" ]] && return 0
    sleep 0.05
  done
  echo "timeout waiting for $url" >&2; return 1
}

# ---------------------------------------------------------------------------- upstreams
FAST_PORT=$(free_port)
NODE_PORT=$(free_port)
PROXY_FAST_PORT=$(free_port)
PROXY_NODE_PORT=$(free_port)
CP_GRPC_PORT=$(free_port)
CP_HTTP_PORT=$(free_port)
DP_PORT=$(free_port)
DP_ADMIN_PORT=$(free_port)

# A fixed, realistic non-streamed chat completion (what OpenAI returns for max_tokens 16).
FAST_BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 tok12 tok13 tok14 tok15","refusal":null},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":16,"total_tokens":20,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_bench"}'

start_nginx() {  # name conf-body workers
  local name=$1 body=$2 workers=$3 dir="$WORK/nginx-$1"
  mkdir -p "$dir"
  chmod 777 "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes $workers;
worker_rlimit_nofile 30000;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 25000; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  $body
}
EOF
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" 2>"$dir/start.log" || { cat "$dir/start.log" >&2; return 1; }
}

# Every server starts in a session of its own, as nginx puts itself by daemonizing. With the
# kernel's autogroup scheduling (on in Debian's kernels: /proc/sys/kernel/sched_autogroup_enabled)
# each session is one scheduling group: a server started from this script would share a group with
# wrk, so under contention have about half the weight nginx's worker has, and be preempted by the
# wakeups of tasks in other groups (measured: 4-7 times as often as nginx's worker). setsid execs
# in place here (a script's background job leads no process group), so $! stays the server's pid.
own_session=(setsid)

log "starting the fast upstream (nginx return 200) on $FAST_PORT"
start_nginx fast "server { listen 127.0.0.1:$FAST_PORT; location / { default_type application/json; return 200 '$FAST_BODY'; } }" 1

log "starting the Node fake upstream on $NODE_PORT"
"${own_session[@]}" node "$ROOT/tests/fake_upstream/server.mjs" --port "$NODE_PORT" --no-record >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
FAKE_PID=$!
wait_http "http://127.0.0.1:$NODE_PORT/__fake/health"

log "starting nginx as a plain reverse proxy on $PROXY_FAST_PORT (-> fast) and $PROXY_NODE_PORT (-> Node fake)"
start_nginx proxy "
  upstream fast { server 127.0.0.1:$FAST_PORT; keepalive 256; }
  upstream nodefake { server 127.0.0.1:$NODE_PORT; keepalive 256; }
  server { listen 127.0.0.1:$PROXY_FAST_PORT;
    location / { proxy_pass http://fast; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }
  server { listen 127.0.0.1:$PROXY_NODE_PORT;
    location / { proxy_pass http://nodefake; proxy_http_version 1.1; proxy_set_header Connection \"\";
                 proxy_buffering off; } }" "$THREADS"
wait_http "http://127.0.0.1:$PROXY_FAST_PORT/"

# ---------------------------------------------------------------------------- llm-proxy
ENC_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
log "starting llm-proxy-controlplane (SQLite) on $CP_GRPC_PORT"
# The control plane stores one usage record per proxied request (SQLite here); on a shared 2-core
# box that ingestion (~15 us of CPU and a page write per record) would land on the cell being
# measured, and only on the data plane's cells: nginx sends no usage. In production the control
# plane runs elsewhere. So it runs at the lowest priority, is paused (SIGSTOP) while wrk runs, and
# each cell waits until it has caught up (see cp_settle and run_wrk).
env -u LLMPROXY_ADMIN_TOKEN -u LLMPROXY_DATAPLANE_TOKEN \
  "${own_session[@]}" nice -n 19 "$BIN_DIR/llm-proxy-controlplane" --grpc-address "127.0.0.1:$CP_GRPC_PORT" --http-address "127.0.0.1:$CP_HTTP_PORT" \
  --database-url "sqlite://$WORK/cp.db" --encryption-key "$ENC_KEY" --log-level warn >"$WORK/cp.log" 2>&1 &
PIDS+=($!)
CP_PID=$!
wait_http "http://127.0.0.1:$CP_HTTP_PORT/readyz"

VKEY=sk-lp-bench000000000000000000000000000000000000000
MASTER=sk-master-bench-0000000000000000
cli() { "$BIN_DIR/llm-proxy" --server "127.0.0.1:$CP_GRPC_PORT" -o json "$@"; }
jid() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=/"id":\s*"([a-z]{2}_[0-9a-f]{12})"/.exec(s);if(!m)process.exit(1);console.log(m[1])})'; }
CN_FAST=$(cli connection add --name bench-fast --provider openai --endpoint "http://127.0.0.1:$FAST_PORT/v1" --api-key sk-bench-upstream | jid)
CN_NODE=$(cli connection add --name bench-node --provider openai --endpoint "http://127.0.0.1:$NODE_PORT/v1" --api-key sk-bench-upstream | jid)
cli model add --name bench-fast --remote gpt-4o-mini --conn-id "$CN_FAST" >/dev/null
cli model add --name bench-node --remote gpt-4o-mini --conn-id "$CN_NODE" >/dev/null
# The Node fake reads behaviour from the model name: 10 ms between SSE chunks.
cli model add --name bench-node-slow --remote fake-chunkdelay10 --conn-id "$CN_NODE" >/dev/null
VK_ID=$(cli vkey add --name bench --key "$VKEY" --conn-id "$CN_FAST" | jid)
cli assignment add --vkey-id "$VK_ID" --conn-id "$CN_NODE" >/dev/null

# The data plane's command line for port $1, admin port $2 and snapshot name $3 (the main one, and
# fresh ones for the idle-memory and instruction counts), in DP_CMD.
dataplane_cmd() {
  DP_CMD=("$BIN_DIR/llm-proxy-dataplane" --listen-address "127.0.0.1:$1" --admin-address "127.0.0.1:$2"
    --controlplane-address "127.0.0.1:$CP_GRPC_PORT" --threads "$THREADS" --master-key "$MASTER"
    --snapshot-path "$WORK/$3.bin" --encryption-key "$ENC_KEY" --log-level warn)
}

log "starting llm-proxy-dataplane (--threads $THREADS) on $DP_PORT"
dataplane_cmd "$DP_PORT" "$DP_ADMIN_PORT" dp-snapshot
env -u LLMPROXY_ADMIN_TOKEN -u LLMPROXY_DATAPLANE_TOKEN "${own_session[@]}" "${DP_CMD[@]}" >"$WORK/dp.log" 2>&1 &
DP_PID=$!
PIDS+=($DP_PID)
wait_http "http://127.0.0.1:$DP_ADMIN_PORT/readyz"
wait_http "http://127.0.0.1:$DP_PORT/v1/chat/completions" 200 10 -H "Authorization: Bearer $VKEY" \
  -H 'content-type: application/json' -d '{"model":"bench-node","messages":[{"role":"user","content":"hi"}]}' \
  || { echo "data plane does not serve bench-node"; tail -20 "$WORK/dp.log"; exit 1; }
curl -sf -o /dev/null -H "Authorization: Bearer $VKEY" -H 'content-type: application/json' \
  -d '{"model":"bench-fast","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$DP_PORT/v1/chat/completions" \
  || { echo "data plane does not serve bench-fast"; exit 1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
log "data plane RSS at start: $(rss_kb $DP_PID) kB"

# ---------------------------------------------------------------------------- machine
{
  echo "{"
  echo "  \"date_utc\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo "  \"cores\": $(nproc),"
  echo "  \"mem_total_kb\": $(awk '/MemTotal/ {print $2}' /proc/meminfo),"
  echo "  \"kernel\": \"$(uname -r)\","
  echo "  \"nginx\": \"$("$NGINX" -v 2>&1 | sed 's/.*: //')\","
  echo "  \"wrk\": \"$(wrk --version 2>&1 | head -1 | awk '{print $2}')\","
  echo "  \"node\": \"$(node --version)\","
  echo "  \"git_rev\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo "  \"dataplane_version\": \"$("$BIN_DIR/llm-proxy-dataplane" --version 2>/dev/null | head -1)\","
  echo "  \"dataplane_build\": \"$BUILD_KIND\","
  echo "  \"duration_s\": $DURATION, \"threads\": $THREADS, \"load_avg_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\""
  echo "}"
} >"$OUT/machine.json"

# ---------------------------------------------------------------------------- requests/s
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "tid ticks" for every thread of the given processes (the name in parentheses cut off first: it
# may hold spaces).
task_ticks() {
  local p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*/stat; do sed 's/^\([0-9]*\) (.*) /\1 /' "$t" 2>/dev/null; done
  done | awk '{print $1, $13 + $14}'
}
# How many threads did the work between two task_ticks snapshots: those with at least a tenth of
# it. nginx hands a burst of new connections to the one worker that wakes up first (multi_accept),
# so "2 workers" can mean one busy worker; this says how many really served the cell.
busy_tasks() {
  awk 'NR == FNR {before[$1] = $2; next} {d[$1] = $2 - before[$1]; total += d[$1]}
       END {n = 0; for (t in d) if (total > 0 && d[t] * 10 >= total) n++; print n}' "$1" "$2"
}
cp_settle() {  # wait (up to 60 s) until the control plane has stored the usage backlog
  local i a b
  for ((i = 0; i < 120; i++)); do
    a=$(cpu_ticks "$CP_PID"); sleep 0.5; b=$(cpu_ticks "$CP_PID")
    ((b - a < 3)) && return 0
  done
  log "control plane still busy after 60 s"
}
run_wrk() {  # target url model key conc pids-of-the-target...  (env PAUSE_MS: paced load, ROUND)
  local target=$1 url=$2 model=$3 key=$4 c=$5 t=1 out p ticks0=0 ticks1=0 pause=${PAUSE_MS:-0}
  local round=${ROUND:-1} busy
  shift 5
  out="$OUT/wrk-$target-c$c.txt"
  ((pause > 0)) && out="$OUT/wrk-$target-c$c-pause$pause.txt"
  [[ -n ${ROUND:-} ]] && out="${out%.txt}-r$round.txt"
  export BENCH_PAUSE_MS=$pause
  cp_settle
  BENCH_MODEL=$model BENCH_KEY=$key wrk -t$t -c"$c" -d2s -s "$BENCH/post.lua" "$url" >/dev/null 2>&1 || true  # warm-up
  cp_settle
  for p in "$@"; do ticks0=$((ticks0 + $(cpu_ticks "$p"))); done
  # The control plane is paused while wrk runs (see the note where it starts); the data plane
  # keeps every usage record in its on-disk spool meanwhile and delivers them after, and the CPU
  # it spends on that is counted: the target's CPU is read once the control plane has caught up.
  kill -STOP "$CP_PID"
  task_ticks "$@" >"$WORK/tasks-before"
  BENCH_MODEL=$model BENCH_KEY=$key wrk -t$t -c"$c" -d"${DURATION}s" --latency -s "$BENCH/post.lua" "$url" >"$out" 2>&1
  task_ticks "$@" >"$WORK/tasks-after"
  kill -CONT "$CP_PID"
  busy=$(busy_tasks "$WORK/tasks-before" "$WORK/tasks-after")
  cp_settle
  for p in "$@"; do ticks1=$((ticks1 + $(cpu_ticks "$p"))); done
  local json
  json=$(sed -n 's/^JSON //p' "$out")
  # cpu_ticks: CPU time (user + system, 1/100 s) the target's own processes used during the run.
  # busy_threads: the target's threads (nginx: worker processes) that did the work during wrk.
  echo "{\"kind\":\"rps\",\"target\":\"$target\",\"concurrency\":$c,\"pause_ms\":$pause,\"round\":$round,\"cpu_ticks\":$((ticks1 - ticks0)),\"busy_threads\":$busy,\"result\":$json}" >>"$RESULTS"
  log "$target c=$c pause=${pause}ms round $round ($busy busy): $json"
}
mapfile -t FAST_PIDS < <(pgrep -P "$(cat "$WORK/nginx-fast/nginx.pid")")
mapfile -t PROXY_PIDS < <(pgrep -P "$(cat "$WORK/nginx-proxy/nginx.pid")")
if [[ $SKIP != *" rps "* ]]; then
  for c in $CONCURRENCY; do
    run_wrk direct-fast "http://127.0.0.1:$FAST_PORT/v1/chat/completions" gpt-4o-mini "" "$c" "${FAST_PIDS[@]}"
    # The comparison the target is about, repeated: on shared cores one cell's ratio moves by
    # 10-15 points. The order flips every round so a drift in the box's speed hits both.
    for ((r = 1; r <= ROUNDS; r++)); do
      for target in $( ((r % 2)) && echo "nginx dataplane" || echo "dataplane nginx"); do
        if [[ $target == nginx ]]; then
          ROUND=$r run_wrk nginx-fast "http://127.0.0.1:$PROXY_FAST_PORT/v1/chat/completions" gpt-4o-mini "" "$c" "${PROXY_PIDS[@]}"
        else
          ROUND=$r run_wrk dataplane-fast "http://127.0.0.1:$DP_PORT/v1/chat/completions" bench-fast "$VKEY" "$c" "$DP_PID"
        fi
      done
    done
    run_wrk direct-node "http://127.0.0.1:$NODE_PORT/v1/chat/completions" gpt-4o-mini sk-bench-upstream "$c" "$FAKE_PID"
    run_wrk dataplane-node "http://127.0.0.1:$DP_PORT/v1/chat/completions" bench-node "$VKEY" "$c" "$DP_PID"
  done
fi
# Moderate load: the same three targets, each connection pausing after every answer, so the offered
# rate is a fraction of what the box can do and the latency is the proxy's, not the queue's. A
# single cell's p99 moves by a few tenths of a millisecond with the box, so each round measures the
# direct call again (the baseline of "added") and the two proxies in alternating order.
if [[ $SKIP != *" paced "* ]]; then
  for spec in $PACED; do
    c=${spec%%:*}
    export PAUSE_MS=${spec##*:}
    for ((r = 1; r <= PACED_ROUNDS; r++)); do
      export ROUND=$r
      run_wrk direct-fast "http://127.0.0.1:$FAST_PORT/v1/chat/completions" gpt-4o-mini "" "$c" "${FAST_PIDS[@]}"
      for target in $( ((r % 2)) && echo "nginx dataplane" || echo "dataplane nginx"); do
        if [[ $target == nginx ]]; then
          run_wrk nginx-fast "http://127.0.0.1:$PROXY_FAST_PORT/v1/chat/completions" gpt-4o-mini "" "$c" "${PROXY_PIDS[@]}"
        else
          run_wrk dataplane-fast "http://127.0.0.1:$DP_PORT/v1/chat/completions" bench-fast "$VKEY" "$c" "$DP_PID"
        fi
      done
    done
  done
  unset PAUSE_MS ROUND
fi
log "data plane RSS after the load runs: $(rss_kb $DP_PID) kB"

# ---------------------------------------------------------------------------- TTFT
run_ttft() {  # target url model key
  local json
  json=$(node "$BENCH/ttft.mjs" "$2" "$3" "$4" "$TTFT_N" | sed -n 's/^JSON //p')
  echo "{\"kind\":\"ttft\",\"target\":\"$1\",\"result\":$json}" >>"$RESULTS"
  log "ttft $1: $json"
}
if [[ $SKIP != *" ttft "* ]]; then
  run_ttft direct-node "http://127.0.0.1:$NODE_PORT/v1/chat/completions" gpt-4o-mini sk-bench-upstream
  run_ttft nginx-node "http://127.0.0.1:$PROXY_NODE_PORT/v1/chat/completions" gpt-4o-mini sk-bench-upstream
  run_ttft dataplane-node "http://127.0.0.1:$DP_PORT/v1/chat/completions" bench-node "$VKEY"
  # A paced stream (10 ms between chunks, ~180 ms per answer): a proxy that held chunks back
  # would show it here.
  TTFT_N_SAVED=$TTFT_N; TTFT_N=$TTFT_SLOW_N
  run_ttft direct-node-paced "http://127.0.0.1:$NODE_PORT/v1/chat/completions" fake-chunkdelay10 sk-bench-upstream
  run_ttft nginx-node-paced "http://127.0.0.1:$PROXY_NODE_PORT/v1/chat/completions" fake-chunkdelay10 sk-bench-upstream
  run_ttft dataplane-node-paced "http://127.0.0.1:$DP_PORT/v1/chat/completions" bench-node-slow "$VKEY"
  TTFT_N=$TTFT_N_SAVED
fi

# ---------------------------------------------------------------------------- idle connections
idle_test() {  # target port path key pids...
  local target=$1 port=$2 path=$3 key=$4; shift 4
  local pids=("$@") before=0 after=0 p ready
  for p in "${pids[@]}"; do before=$((before + $(rss_kb "$p"))); done
  node "$BENCH/idle_conns.mjs" 127.0.0.1 "$port" "$IDLE_CONNS" "$path" "$key" >"$WORK/idle-$target.log" 2>&1 &
  local client=$!
  for ((i = 0; i < 1200; i++)); do grep -q READY "$WORK/idle-$target.log" 2>/dev/null && break; sleep 0.1; done
  ready=$(grep -o 'READY.*' "$WORK/idle-$target.log" || echo "READY ?")
  sleep 3
  for p in "${pids[@]}"; do after=$((after + $(rss_kb "$p"))); done
  local established
  established=$(ss -Htn state established "( sport = :$port )" | wc -l)
  kill "$client" 2>/dev/null; wait "$client" 2>/dev/null || true
  echo "{\"kind\":\"idle\",\"target\":\"$target\",\"result\":{\"connections\":$IDLE_CONNS,\"client\":\"$ready\",\"established_server_side\":$established,\"rss_before_kb\":$before,\"rss_after_kb\":$after}}" >>"$RESULTS"
  log "idle $target: $ready established=$established rss ${before} kB -> ${after} kB"
}
if [[ $SKIP != *" idle "* ]]; then
  # A fresh data plane: after the load cells the first one's allocator holds freed memory that new
  # connections would reuse, which hides what they cost.
  IDLE_DP_PORT=$(free_port)
  IDLE_DP_ADMIN=$(free_port)
  dataplane_cmd "$IDLE_DP_PORT" "$IDLE_DP_ADMIN" dp-idle-snapshot
  env -u LLMPROXY_ADMIN_TOKEN -u LLMPROXY_DATAPLANE_TOKEN "${own_session[@]}" "${DP_CMD[@]}" >"$WORK/dp-idle.log" 2>&1 &
  IDLE_DP_PID=$!
  PIDS+=($IDLE_DP_PID)
  wait_http "http://127.0.0.1:$IDLE_DP_PORT/v1/models" 200 20 -H "Authorization: Bearer $VKEY"
  idle_test dataplane "$IDLE_DP_PORT" /v1/models "$VKEY" "$IDLE_DP_PID"
  kill "$IDLE_DP_PID"
  sleep 2
  mapfile -t NGINX_PIDS < <(pgrep -P "$(cat "$WORK/nginx-proxy/nginx.pid")"; cat "$WORK/nginx-proxy/nginx.pid")
  idle_test nginx "$PROXY_FAST_PORT" /v1/models "" "${NGINX_PIDS[@]}"
fi

# ---------------------------------------------------------------------------- instructions
# User-space instructions per proxied request, counted by callgrind over a fixed number of
# requests (after a warm-up) in a second data plane, and in an nginx proxy for scale. Unlike
# requests/s on shared cores, the count is the same run after run (to a few per mille), so a change
# to the hot path shows; kernel work (system calls, TCP) is not in it. The data plane's count
# includes all its threads: the usage reporter's batches to the control plane too.
count_instructions() {  # target port model key command...
  local target=$1 port=$2 model=$3 key=$4 pid json ir
  shift 4
  local url="http://127.0.0.1:$port/v1/chat/completions" out="$WORK/callgrind-$target.out"
  env -u LLMPROXY_ADMIN_TOKEN -u LLMPROXY_DATAPLANE_TOKEN \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$@" >"$WORK/callgrind-$target.log" 2>&1 &
  pid=$!
  if ! wait_http "$url" 200 60 ${key:+-H "Authorization: Bearer $key"} -H 'content-type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[]}"; then
    log "instructions $target: not serving"
    kill "$pid"
    return 0
  fi
  node "$BENCH/fixed_requests.mjs" "$url" "$model" "$key" 500 4 >/dev/null  # warm-up
  callgrind_control -i on "$pid" >/dev/null
  json=$(node "$BENCH/fixed_requests.mjs" "$url" "$model" "$key" "$INSTR_N" 4 | sed -n 's/^JSON //p')
  callgrind_control -i off "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !v {gsub(",", "", $1); v = $1} END {print v}')
  echo "{\"kind\":\"instructions\",\"target\":\"$target\",\"result\":{\"instructions\":${ir:-0},\"requests\":$json}}" >>"$RESULTS"
  log "instructions $target: ${ir:-?} for $json"
}
if [[ $SKIP != *" instr "* ]]; then
  CG_DP_PORT=$(free_port)
  CG_DP_ADMIN=$(free_port)
  CG_NGINX_PORT=$(free_port)
  dataplane_cmd "$CG_DP_PORT" "$CG_DP_ADMIN" dp-cg-snapshot
  count_instructions dataplane-fast "$CG_DP_PORT" bench-fast "$VKEY" "${DP_CMD[@]}"
  mkdir -p "$WORK/nginx-cg"
  cat >"$WORK/nginx-cg/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx-cg/nginx.pid;
error_log $WORK/nginx-cg/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-cg/body;
  proxy_temp_path $WORK/nginx-cg/proxy;
  fastcgi_temp_path $WORK/nginx-cg/fastcgi;
  uwsgi_temp_path $WORK/nginx-cg/uwsgi;
  scgi_temp_path $WORK/nginx-cg/scgi;
  upstream fast { server 127.0.0.1:$FAST_PORT; keepalive 256; }
  server { listen 127.0.0.1:$CG_NGINX_PORT;
    location / { proxy_pass http://fast; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
EOF
  count_instructions nginx-fast "$CG_NGINX_PORT" gpt-4o-mini "" "$NGINX" -c "$WORK/nginx-cg/nginx.conf" -p "$WORK/nginx-cg"
fi

cp "$WORK/dp.log" "$OUT/dataplane.log" 2>/dev/null || true
node "$BENCH/summarize.mjs" "$OUT" | tee "$OUT/summary.md"
log "results in $OUT"
