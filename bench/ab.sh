#!/usr/bin/env bash
# A/B two builds of the proxy side by side on the same two nginx nodes: a git revision (A) against
# the working tree (B), or against a second revision. Rounds alternate which goes first, so the
# VM's drift and the second runner's advantage cancel out; compare within a round, not across.
#   bash bench/ab.sh 127b427                   # that revision against the working tree
#   bash bench/ab.sh 127b427 HEAD              # two revisions
#   CONNECTIONS=32 ROUNDS=6 bash bench/ab.sh 127b427
#   A_ARGS="--Proxy:AccessLog:Enabled=false" bash bench/ab.sh HEAD HEAD   # one build, two settings
# Each line: round, build, requests/s, p99 ms, CPU µs per request. Then each build's peak RSS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '2,8p' "$0"; exit 2; }
CONNECTIONS=${CONNECTIONS:-256}
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
THREADS=2

# The proxy of one revision, built in Release under $WORK/builds/<name>; "" means the working tree.
build_revision() {
  local name=$1 revision=$2 dir="$ROOT"
  if [ -n "$revision" ]; then
    dir="$WORK/builds/$name"
    git clone -q "$ROOT" "$dir"
    git -C "$dir" checkout -q "$revision"
  fi
  dotnet build "$dir/src/Proxy.Host" -c Release -v q -nologo >/dev/null
  echo "$dir/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll"
}

ensure_tools
trap stop_all EXIT
start_nodes
write_wrk_scripts
mkdir -p "$WORK/builds"
A_DLL=$(build_revision a "$1")
B_DLL=$(build_revision b "${2:-}")
# A_ARGS / B_ARGS: more command-line settings for one side (word-split).
# shellcheck disable=SC2086
launch_proxy "$A_DLL" 18200 18201 ${A_ARGS:-}; A_PID=$LAUNCHED_PID
# shellcheck disable=SC2086
launch_proxy "$B_DLL" 18300 18301 ${B_ARGS:-}; B_PID=$LAUNCHED_PID

echo "A = $1 ${A_ARGS:-}, B = ${2:-working tree} ${B_ARGS:-}; $CONNECTIONS connections, ${DURATION}s rounds, 128 B XML-RPC POSTs"
for port in 18200 18300; do
  wrk -t"$THREADS" -c"$CONNECTIONS" -d10s -s "$WORK/post.lua" "http://127.0.0.1:$port/small" >/dev/null 2>&1
done
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="A:18200:$A_PID B:18300:$B_PID"; else order="B:18300:$B_PID A:18200:$A_PID"; fi
  for entry in $order; do
    IFS=: read -r name port pid <<<"$entry"
    report "$round" "$name" "$port" "$pid"
  done
done
echo "peak RSS: A $(peak_rss_mb "$A_PID") MB, B $(peak_rss_mb "$B_PID") MB"
