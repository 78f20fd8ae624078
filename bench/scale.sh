#!/usr/bin/env bash
# Cost curves: the proxy (default configuration: access log on, to a file; and with the access log
# off) against plain YARP (round-robin, logging cleared), interleaved rounds as bench/run.sh does,
# at each point of four sweeps from one base (2 nodes, 128 B answers, standalone):
#   connections 32 / 256 / 1,024 / 4,096      nodes 2 / 16 / 64 (256 connections)
#   answers 128 B / 4 KiB / 64 KiB (32 conns)  one member of a 3-member cluster (256 connections)
# Per point and target: req/s, p50/p99, CPU µs per request, peak RSS, KB allocated per request
# (dotnet-counters, in a pass of its own). Writes bench/results/scale.md and bench/results/scale.svg
# (req/s and p99 against connections).
#   bash bench/scale.sh                       # about 25 minutes
#   ROUNDS=2 DURATION=5 bash bench/scale.sh   # quicker, noisier
#   SWEEPS="connections" bash bench/scale.sh  # only some sweeps (connections nodes sizes cluster)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
SWEEPS=${SWEEPS:-"connections nodes sizes cluster"}
OUT=${OUT:-"$ROOT/bench/results/scale.md"}
SVG=${SVG:-"$ROOT/bench/results/scale.svg"}
FIRST_NODE_PORT=18200
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

ensure_counters

ensure_tools
build
trap 'stop_all; stop_pool' EXIT
start_nodes   # the answers and certificates; the pool below serves them
stop_nodes
write_wrk_scripts

# nginx with NODES server blocks on FIRST_NODE_PORT.. (the answers of start_nodes).
start_pool() {
  local count=$1 conf="$WORK/pool-$1.conf" blocks=""
  for i in $(seq 0 $((count - 1))); do
    blocks+="  server { listen 127.0.0.1:$((FIRST_NODE_PORT + i)); root $WORK/www; error_page 405 =200 \$uri; location / { rewrite ^/(small|4k|64k)\$ /\$1.xml break; } }"$'\n'
  done
  cat > "$conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $WORK/pool.pid;
error_log $WORK/logs/pool-error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  keepalive_requests 1000000;
  default_type text/xml;
$blocks}
CONF
  stop_pool
  "$NGINX" -c "$conf" -p "$WORK"
}
stop_pool() { [ -f "$WORK/pool.pid" ] && kill "$(cat "$WORK/pool.pid")" 2>/dev/null && sleep 0.5 || true; }

# The three targets in front of COUNT pool nodes: YARP_PID, PROXY_PID (access log on, to a file),
# QUIET_PID (access log off); CLUSTER=1 makes the two proxies members of a 3-member cluster (a
# third member, not measured, completes it).
PROXY_QUIET_PORT=18020 PROXY_QUIET_DEBUG_PORT=18021 MEMBER3_PORT=18030 MEMBER3_DEBUG_PORT=18031
start_targets() {
  local count=$1 nodes=() list=""
  for i in $(seq 0 $((count - 1))); do
    nodes+=("--Proxy:Nodes:$i:Name=node$((i + 1))" "--Proxy:Nodes:$i:Address=http://127.0.0.1:$((FIRST_NODE_PORT + i))")
    list+="${list:+,}http://127.0.0.1:$((FIRST_NODE_PORT + i))"
  done
  local cluster=()
  if [ "${CLUSTER:-0}" = 1 ]; then
    cluster=(--Proxy:Cluster:Enabled=true --Proxy:Cluster:Seeds:0=akka.tcp://proxy@127.0.0.1:18301
             --Proxy:Cluster:Seeds:1=akka.tcp://proxy@127.0.0.1:18302 --Proxy:Cluster:Seeds:2=akka.tcp://proxy@127.0.0.1:18303)
  fi
  local dll="$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll"
  launch_yarp "$YARP_PORT" "$list"; YARP_PID=$LAUNCHED_PID
  launch_scaled "$dll" "$PROXY_PORT" "$PROXY_DEBUG_PORT" "${nodes[@]}" "${cluster[@]}" ${cluster:+--Proxy:Cluster:Port=18301} \
    "--Proxy:AccessLog:Path=$WORK/logs/access.log"
  PROXY_PID=$LAUNCHED_PID
  launch_scaled "$dll" "$PROXY_QUIET_PORT" "$PROXY_QUIET_DEBUG_PORT" "${nodes[@]}" "${cluster[@]}" ${cluster:+--Proxy:Cluster:Port=18302} \
    --Proxy:AccessLog:Enabled=false
  QUIET_PID=$LAUNCHED_PID
  if [ "${CLUSTER:-0}" = 1 ]; then
    launch_scaled "$dll" "$MEMBER3_PORT" "$MEMBER3_DEBUG_PORT" "${nodes[@]}" "${cluster[@]}" --Proxy:Cluster:Port=18303 --Proxy:AccessLog:Enabled=false
    MEMBER3_PID=$LAUNCHED_PID
    for _ in $(seq 1 150); do
      curl -s "http://127.0.0.1:$PROXY_DEBUG_PORT/debug/cluster" | grep -q '"status":"up"' && \
        [ "$(curl -s "http://127.0.0.1:$PROXY_DEBUG_PORT/debug/cluster" | grep -o '"status":"up"' | wc -l)" -ge 4 ] && break
      sleep 0.2
    done
  fi
}
launch_scaled() {
  local dll=$1 port=$2 debug_port=$3; shift 3
  dotnet "$dll" --Proxy:Listen=http://127.0.0.1:$port --Proxy:Debug:Listen=http://127.0.0.1:$debug_port \
    --Serilog:MinimumLevel:Default=Warning "$@" > "$WORK/logs/proxy-$port.log" 2>&1 &
  LAUNCHED_PID=$!; PIDS+=("$LAUNCHED_PID")
  wait_http "http://127.0.0.1:$debug_port/readyz"
}
stop_targets() {
  for pid in "$YARP_PID" "$PROXY_PID" "$QUIET_PID" ${MEMBER3_PID:-}; do kill "$pid" 2>/dev/null || true; done
  for pid in "$YARP_PID" "$PROXY_PID" "$QUIET_PID" ${MEMBER3_PID:-}; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
  MEMBER3_PID=""
}

# KB allocated per request: dotnet-counters over a wrk run of its own. A pass whose collector
# recorded no sample (it attaches over the diagnostics socket, which can miss) is run once more,
# then reported as n/a rather than as 0.
allocated_kb() {
  local pid=$1 url=$2 conns=$3 attempt kb=""
  for attempt in 1 2; do
    rm -f "$WORK/alloc.csv"
    "$COUNTERS" collect -p "$pid" --counters System.Runtime --refresh-interval 1 --format csv \
      -o "$WORK/alloc.csv" --duration "00:00:00:08" >/dev/null 2>&1 &
    local collector=$!
    sleep 1.5
    local out; out=$(wrk -t"$THREADS" -c"$conns" -d5s -s "$WORK/post.lua" "$url" 2>&1)
    wait "$collector" || true
    kb=$(python3 - "$WORK/alloc.csv" "$(awk '/Requests\/sec/ { print $2 }' <<<"$out")" <<'PY'
import csv, os, statistics, sys
path = sys.argv[1]
rows = list(csv.reader(open(path)))[1:] if os.path.exists(path) else []
values = sorted(float(r[4]) for r in rows if len(r) > 4 and r[2].startswith("dotnet.gc.heap.total_allocated"))
busy = values[len(values) // 2:]
if busy and statistics.median(busy) > 0 and sys.argv[2]:
    print(f"{statistics.median(busy) / max(1.0, float(sys.argv[2])) / 1024:.2f}")
PY
)
    [ -n "$kb" ] && break
    echo "allocation pass of pid $pid recorded nothing (attempt $attempt)" >&2
  done
  echo "${kb:-n/a}"
}

# One point: ROUNDS interleaved rounds of the three targets (the order turns each round), then an
# allocation pass per target. Appends one row per target to $WORK/points.
measure_point() {
  local sweep=$1 label=$2 path=$3 conns=$4
  local -A urls=([yarp]="http://127.0.0.1:$YARP_PORT" [proxy]="http://127.0.0.1:$PROXY_PORT" [quiet]="http://127.0.0.1:$PROXY_QUIET_PORT")
  local -A pids=([yarp]=$YARP_PID [proxy]=$PROXY_PID [quiet]=$QUIET_PID)
  local order=(yarp proxy quiet)
  for target in "${order[@]}"; do
    : > "$WORK/$target.rounds"; reset_peak_rss "${pids[$target]}"
    wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" -s "$WORK/post.lua" "${urls[$target]}$path" >/dev/null 2>&1
  done
  for round in $(seq 1 "$ROUNDS"); do
    for i in 0 1 2; do
      local target=${order[$(((i + round) % 3))]}
      measure "${urls[$target]}$path" "$conns" post.lua "${pids[$target]}" >> "$WORK/$target.rounds"
    done
  done
  # The peak RSS of the measured rounds, read before the allocation pass attaches its EventPipe session.
  local -A peaks=()
  for target in "${order[@]}"; do peaks[$target]=$(peak_rss_mb "${pids[$target]}"); done
  for target in "${order[@]}"; do
    local kb; kb=$(allocated_kb "${pids[$target]}" "${urls[$target]}$path" "$conns")
    python3 - "$sweep" "$label" "$conns" "$target" "$WORK/$target.rounds" "$WORK/yarp.rounds" "${peaks[$target]}" "$kb" >> "$WORK/points" <<'PY'
import os, statistics, sys
sweep, label, conns, target, rounds, base, peak, kb = sys.argv[1:]
read = lambda f: [l.split() for l in open(f) if l.strip()]
rows, yarp = read(rounds), read(base)
med = lambda i: statistics.median(float(r[i]) for r in rows)
requests, ticks = sum(int(r[4]) for r in rows), sum(int(r[8]) for r in rows)
ratio = statistics.median(float(r[0]) / float(b[0]) for r, b in zip(rows, yarp))
cpu = 1e6 * ticks / os.sysconf("SC_CLK_TCK") / max(1, requests)
print("\t".join([sweep, label, conns, target, f"{med(0):.0f}", f"{med(1):.2f}", f"{med(2):.2f}", f"{ratio:.2f}", f"{cpu:.1f}", peak, kb]))
PY
  done
  echo "$sweep $label: $(grep -P "^$sweep\t$label\t" "$WORK/points" | awk -F'\t' '{ printf "%s %s req/s (%sx)  ", $4, $5, $8 }')" >&2
}

: > "$WORK/points"
for sweep in $SWEEPS; do
  case $sweep in
    connections)
      start_pool 2; start_targets 2
      for conns in 32 256 1024 4096; do measure_point connections "$conns" /small "$conns"; done
      stop_targets ;;
    nodes)
      for count in 2 16 64; do
        start_pool "$count"; start_targets "$count"
        measure_point nodes "$count" /small 256
        stop_targets
      done ;;
    sizes)
      start_pool 2; start_targets 2
      for size in small:128 4k:4096 64k:65536; do measure_point sizes "${size#*:}" "/${size%:*}" 32; done
      stop_targets ;;
    cluster)
      start_pool 2; CLUSTER=1 start_targets 2
      measure_point cluster "3 members" /small 256
      stop_targets ;;
  esac
done
stop_pool

python3 - "$WORK/points" "$OUT" "$SVG" "$ROUNDS" "$DURATION" "$(nproc)" <<'PY'
import sys, datetime, collections
points_file, out, svg, rounds, duration, cores = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(points_file) if l.strip()]
names = {"yarp": "YARP 2.3 round-robin", "proxy": "Proxy (default: access log on)", "quiet": "Proxy, access log off"}
titles = {"connections": "Connections (2 nodes, 128 B)", "nodes": "Nodes (256 connections, 128 B)",
          "sizes": "Answer size in bytes (32 connections, 2 nodes)", "cluster": "Cluster member (256 connections, 2 nodes, 128 B)"}
lines = [f"# Cost curves: Proxy vs YARP — {datetime.datetime.utcnow():%Y-%m-%dT%H:%MZ}", "",
         f"Command: `bash bench/scale.sh` ({rounds} interleaved rounds of {duration}s per target and point, wrk -t2, XML-RPC POSTs to nginx nodes;",
         f"the order of the three targets turns each round). Machine: {cores} cores, load tool on the same box.",
         "\"vs YARP\": median of the rounds' ratios to YARP's run of the same round. KB/request: a separate 5 s pass under dotnet-counters.", ""]
for sweep in ["connections", "nodes", "sizes", "cluster"]:
    part = [r for r in rows if r[0] == sweep]
    if not part:
        continue
    lines += [f"## {titles[sweep]}", "", "| point | target | req/s | p50 ms | p99 ms | vs YARP | CPU µs / request | peak RSS MB | KB allocated / request |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in part:
        lines.append(f"| {r[1]} | {names[r[3]]} | {r[4]} | {r[5]} | {r[6]} | {r[7]}x | {r[8]} | {r[9]} | {r[10]} |")
    lines.append("")
lines.append(f"Chart: [{svg.split('/')[-1]}]({svg.split('/')[-1]}) (req/s and p99 against connections).")
open(out, "w").write("\n".join(lines) + "\n")

# The chart: two panels, x = connections (log scale), one line per target.
conn = [r for r in rows if r[0] == "connections"]
if conn:
    import math
    xs = sorted({int(r[1]) for r in conn})
    colours = {"yarp": "#888888", "proxy": "#1f77b4", "quiet": "#2ca02c"}
    W, H, M = 420, 300, 50
    def panel(ox, title, col, unit):
        values = [float(r[col]) for r in conn]
        top = max(values) * 1.15 or 1
        x = lambda c: ox + M + (math.log2(c) - math.log2(xs[0])) / max(1, math.log2(xs[-1]) - math.log2(xs[0])) * (W - 2 * M)
        y = lambda v: H - M + 10 - v / top * (H - 2 * M)
        parts = [f'<text x="{ox + W / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
                 f'<line x1="{ox + M}" y1="{H - M + 10}" x2="{ox + W - M}" y2="{H - M + 10}" stroke="black"/>',
                 f'<line x1="{ox + M}" y1="{M - 10}" x2="{ox + M}" y2="{H - M + 10}" stroke="black"/>']
        for c in xs:
            parts.append(f'<text x="{x(c)}" y="{H - M + 28}" text-anchor="middle" font-size="11">{c}</text>')
        for k in range(5):
            v = top * k / 4
            parts.append(f'<text x="{ox + M - 6}" y="{y(v) + 4}" text-anchor="end" font-size="11">{v:.0f}</text>')
        parts.append(f'<text x="{ox + W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">connections ({unit})</text>')
        for target, colour in colours.items():
            pts = sorted((int(r[1]), float(r[col])) for r in conn if r[3] == target)
            if pts:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in pts)}"/>')
                parts += [f'<circle cx="{x(c):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>' for c, v in pts]
        return parts
    body = panel(0, "Requests per second", 4, "req/s") + panel(W, "p99 latency", 6, "ms")
    legend = [f'<rect x="{20 + i * 250}" y="{H + 6}" width="12" height="12" fill="{c}"/><text x="{36 + i * 250}" y="{H + 17}" font-size="12">{names[t]}</text>'
              for i, (t, c) in enumerate(colours.items())]
    open(svg, "w").write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 30}" font-family="sans-serif">'
                         f'<rect width="100%" height="100%" fill="white"/>{"".join(body + legend)}</svg>\n')
PY
cat "$OUT"
