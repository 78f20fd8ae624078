#!/usr/bin/env bash
# Proxy vs plain YARP (round-robin, no classification) in front of the same two nginx nodes,
# measured in one run, interleaved, after a warm-up. Writes bench/results/latest.md.
#   bash bench/run.sh                 # full run (about 4 minutes)
#   DURATION=5 bash bench/run.sh      # shorter runs
#   ONLY="healthy, 128 B" bash bench/run.sh   # only the scenarios whose name contains this
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
OUT="$ROOT/bench/results/latest.md"

ensure_tools
build
trap stop_all EXIT
start_nodes
write_wrk_scripts
start_yarp
start_proxy

# name | path | connections | overloaded nodes (node1, node2 or both)
SCENARIOS=(
  "healthy, 128 B|/small|32|"
  "healthy, 128 B, 256 conns|/small|256|"
  "node1 overloaded, 128 B|/small|32|node1"
  "both overloaded, 128 B|/small|32|node1 node2"
  "healthy, 4 KiB|/4k|32|"
  "healthy, 64 KiB|/64k|32|"
)

# One wrk run against one target: "rps p50 p99 faults backend_calls_per_request non2xx"
measure() {
  local url=$1 conns=$2 script=$3
  wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" -s "$WORK/$script" "$url" >/dev/null 2>&1
  local before after out
  read -r b1 b2 <<<"$(backend_calls)"
  out=$(wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" -s "$WORK/$script" "$url" 2>&1)
  read -r a1 a2 <<<"$(backend_calls)"
  local requests rps p50 p99 faults non2xx calls node1
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '/^P50/ { print $2 }' <<<"$out")
  p99=$(awk '/^P99/ { print $2 }' <<<"$out")
  faults=$(awk '/^FAULTS/ { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out"); non2xx=${non2xx:-0}
  calls=$(( (a1 - b1) + (a2 - b2) ))
  node1=$(( a1 - b1 ))
  echo "$rps $p50 $p99 $faults $(python3 -c "print(f'{$calls/max(1,$requests):.3f}')") $non2xx $(python3 -c "print(f'{100*$node1/max(1,$calls):.2f}')")"
}

{
  echo "# Proxy vs YARP — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Command: \`bash bench/run.sh\` (wrk -t$THREADS, ${DURATION}s per run after ${WARMUP}s warm-up; XML-RPC POSTs; two nginx nodes;"
  echo "YARP 2.3.0 round-robin; Proxy with the default classifier chain, request logs at Warning)."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), load tool on the same box."
  echo
  echo "| scenario | target | req/s | p50 ms | p99 ms | vs YARP | backend calls / request | node1 share of calls | non-2xx | faults leaked |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT.tmp"

for scenario in "${SCENARIOS[@]}"; do
  IFS='|' read -r name path conns overloaded <<<"$scenario"
  [[ -z "${ONLY:-}" || "$name" == *"$ONLY"* ]] || continue
  rm -f "$WORK"/node*.overload
  for node in $overloaded; do touch "$WORK/$node.overload"; done
  script=post.lua; [ -n "$overloaded" ] && script=post-faults.lua
  read -r y_rps y_p50 y_p99 y_faults y_calls y_non y_share <<<"$(measure "http://127.0.0.1:$YARP_PORT$path" "$conns" "$script")"
  read -r p_rps p_p50 p_p99 p_faults p_calls p_non p_share <<<"$(measure "http://127.0.0.1:$PROXY_PORT$path" "$conns" "$script")"
  ratio=$(python3 -c "print(f'{$p_rps/$y_rps:.2f}x')")
  echo "| $name | YARP | $y_rps | $y_p50 | $y_p99 | 1.00x | $y_calls | $y_share % | $y_non | $y_faults |" >> "$OUT.tmp"
  echo "| $name | Proxy | $p_rps | $p_p50 | $p_p99 | $ratio | $p_calls | $p_share % | $p_non | $p_faults |" >> "$OUT.tmp"
  echo "$name: YARP $y_rps req/s, Proxy $p_rps req/s ($ratio)" >&2
done
rm -f "$WORK"/node*.overload

{
  echo
  echo "Peak RSS: Proxy $(peak_rss_mb "$PROXY_PID") MB, YARP $(peak_rss_mb "$YARP_PID") MB (VmHWM over the whole run, 256 connections included)."
  echo
  echo "\"both overloaded\": YARP delivers the faults as 200s; Proxy answers 503 (non-2xx) and leaks none."
} >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
