#!/usr/bin/env bash
# What SCHED_BATCH on the socket event thread is worth (ADR 0010): one target, its ".NET Sockets"
# thread switched by chrt between the kernel's default policy (A) and SCHED_BATCH (B) before each
# run, rounds alternating which goes first. The proxy starts with
# Proxy:Tuning:BatchScheduleSocketThreads=false so that only this script sets the policy.
#   bash bench/sched.sh                     # the proxy
#   TARGET=yarp bash bench/sched.sh         # plain YARP, which keeps the default
#   CONNECTIONS=32 ROUNDS=6 bash bench/sched.sh
# Each line: round, policy, requests/s, p99 ms, CPU µs per request.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TARGET=${TARGET:-proxy}
CONNECTIONS=${CONNECTIONS:-256}
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
THREADS=2
(( CONNECTIONS >= THREADS )) || THREADS=$CONNECTIONS

ensure_tools
trap stop_all EXIT
build
start_nodes
write_wrk_scripts
if [ "$TARGET" = yarp ]; then
  start_yarp; PORT=$YARP_PORT PID=$YARP_PID
else
  start_proxy --Proxy:Tuning:BatchScheduleSocketThreads=false; PORT=$PROXY_PORT PID=$PROXY_PID
fi

echo "$TARGET: A = default policy, B = SCHED_BATCH on its socket event thread; $CONNECTIONS connections, ${DURATION}s rounds, 128 B XML-RPC POSTs"
wrk -t"$THREADS" -c"$CONNECTIONS" -d10s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/small" >/dev/null 2>&1
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for name in $order; do
    if [ "$name" = A ]; then schedule_socket_threads "$PID" --other; else schedule_socket_threads "$PID" --batch; fi
    report "$round" "$name" "$PORT" "$PID"
  done
done
