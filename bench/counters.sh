#!/usr/bin/env bash
# The runtime's view of one target under load: bytes allocated and thread-pool work items per
# request, GC collections and pause, from dotnet-counters (installed under $WORK-tools if missing:
# $WORK is cleared per run).
#   bash bench/counters.sh                      # the working tree's proxy, 256 connections
#   TARGET=yarp CONNECTIONS=32 bash bench/counters.sh
#   PROXY_OPTIONS="--Proxy:Tracing:Enabled=false" bash bench/counters.sh   # the proxy with these settings
# Prints one line: requests/s, KB allocated / request, gen0 and gen1 collections / s, GC pause %,
# work items / request, RSS at the end: medians of the loaded seconds (the upper half of each
# counter's one-second samples; the collector runs a little longer than the load).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TARGET=${TARGET:-proxy}
CONNECTIONS=${CONNECTIONS:-256}
DURATION=${DURATION:-10}
THREADS=2

ensure_counters

ensure_tools
build
trap stop_all EXIT
start_nodes
write_wrk_scripts
case "$TARGET" in
  # shellcheck disable=SC2086 # the options are words without spaces
  proxy) start_proxy ${PROXY_OPTIONS:-}; PID=$PROXY_PID; PORT=$PROXY_PORT ;;
  yarp) start_yarp; PID=$YARP_PID; PORT=$YARP_PORT ;;
  *) echo "TARGET is proxy or yarp" >&2; exit 2 ;;
esac

URL="http://127.0.0.1:$PORT/small"
wrk -t"$THREADS" -c"$CONNECTIONS" -d10s -s "$WORK/post.lua" "$URL" >/dev/null 2>&1
"$COUNTERS" collect -p "$PID" --counters System.Runtime --refresh-interval 1 --format csv \
  -o "$WORK/counters.csv" --duration "00:00:00:$((DURATION + 3))" >/dev/null 2>&1 &
COLLECTOR=$!
sleep 1.5
out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/post.lua" "$URL" 2>&1)
wait "$COLLECTOR" || true

python3 - "$WORK/counters.csv" "$(awk '/Requests\/sec/ { print $2 }' <<<"$out")" "$PID" "$TARGET" "$CONNECTIONS" <<'PY'
import csv, statistics, sys
path, rps, pid, target, conns = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = list(csv.reader(open(path)))[1:]
def median(name):
    # The loaded seconds only: the upper half of the series' one-second samples.
    values = sorted(float(r[4]) for r in rows if len(r) > 4 and r[2].startswith(name))
    busy = values[len(values) // 2:] if values else [0.0]
    return statistics.median(busy)
allocated = median("dotnet.gc.heap.total_allocated")
gen0 = median("dotnet.gc.collections ({collection} / 1 sec)[gc.heap.generation=gen0]")
gen1 = median("dotnet.gc.collections ({collection} / 1 sec)[gc.heap.generation=gen1]")
pause = median("dotnet.gc.pause.time")
items = median("dotnet.thread_pool.work_item.count")
rss = int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024
print(f"{target}, {conns} connections: {rps:.0f} req/s, {allocated / rps / 1024:.2f} KB allocated / request, "
      f"gen0 {gen0:.0f}/s, gen1 {gen1:.0f}/s, GC pause {100 * pause:.1f} %, "
      f"{items / rps:.2f} work items / request, RSS {rss} MB")
PY
