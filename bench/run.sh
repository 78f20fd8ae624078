#!/usr/bin/env bash
# Proxy vs plain YARP (round-robin, no classification) in front of the same two nginx nodes,
# measured in one run, interleaved, after a warm-up. Writes bench/results/latest.md.
#   bash bench/run.sh                 # full run (about 13 minutes)
#   DURATION=5 bash bench/run.sh      # shorter runs
#   ONLY="healthy, 128 B" bash bench/run.sh   # only the scenarios whose name contains this
#   ONLY=https OUT=bench/results/tls.md bash bench/run.sh   # the TLS scenarios alone, into their own file
#   ONLY=trac OUT=bench/results/tracing.md bash bench/run.sh  # trace context off, and spans exported
#   ROUNDS=2 bash bench/run.sh        # two rounds instead of four (faster, noisier)
#   REFERENCE_ROUNDS=6                # rounds of the scenario read against a healthy run (at least ROUNDS)
#   WARMUP_START=5                    # seconds per connection count of each target's initial warm-up
#   YARP_BATCH=1 bash bench/run.sh    # YARP's socket event thread under SCHED_BATCH too, as the proxy's
#                                     # is by default (ADR 0010); writes bench/results/yarp-batch.md
# Each scenario runs ROUNDS times, YARP and Proxy back to back, which one goes first alternating;
# the table gives the median of the rounds (this VM's figures move by +-15% from one run to the
# next), their total counts, and the median of the rounds' Proxy/YARP ratios.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
WARMUP_START=${WARMUP_START:-5}
ROUNDS=${ROUNDS:-4}
REFERENCE_ROUNDS=${REFERENCE_ROUNDS:-6}
THREADS=${THREADS:-2}
YARP_BATCH=${YARP_BATCH:-0}
OUT=${OUT:-"$ROOT/bench/results/latest.md"}
YARP_NAME="YARP 2.3.0 round-robin"
if [ "$YARP_BATCH" = 1 ]; then
  OUT="$ROOT/bench/results/yarp-batch.md"
  YARP_NAME="YARP 2.3.0 round-robin, its socket event thread under SCHED_BATCH (set by this script)"
fi

ensure_tools
build
trap stop_all EXIT
start_nodes
write_wrk_scripts
start_yarp --https-port "$YARP_TLS_PORT" --certificate "$WORK/tls/server.pem" --key "$WORK/tls/server.key"
# shellcheck disable=SC2046 # the options are words without spaces
start_proxy $(tls_listener_options_proxy)
start_tls_node_targets
start_tracing_targets
if [ "$YARP_BATCH" = 1 ]; then schedule_socket_threads "$YARP_PID" --batch; fi

# Both targets start cold (tiered JIT, GC heap count, thread pool, connection pools): warm each at
# both connection counts before the first scenario, so the rounds compare steady states. Larger
# answers are warmed by their own scenario only: the buffers they leave pooled would count in the
# 256-connection scenario's peak RSS.
for url in "http://127.0.0.1:$YARP_PORT" "http://127.0.0.1:$PROXY_PORT"; do
  for warm in /small:256 /small:32; do
    wrk -t"$THREADS" -c"${warm#*:}" -d"$WARMUP_START"s -s "$WORK/post.lua" "$url${warm%:*}" >/dev/null 2>&1
  done
done
for url in "https://127.0.0.1:$YARP_TLS_PORT" "https://127.0.0.1:$PROXY_TLS_PORT" "http://127.0.0.1:$YARP_TLS_NODES_PORT" "http://127.0.0.1:$PROXY_TLS_NODES_PORT"; do
  [[ -z "${ONLY:-}" || "$ONLY" == *https* ]] || continue
  wrk -t"$THREADS" -c32 -d"$WARMUP_START"s -s "$WORK/post.lua" "$url/small" >/dev/null 2>&1
done
for url in "http://127.0.0.1:$PROXY_UNTRACED_PORT" "http://127.0.0.1:$PROXY_EXPORTING_PORT"; do
  [[ -z "${ONLY:-}" || "$ONLY" == *trac* ]] || continue
  wrk -t"$THREADS" -c32 -d"$WARMUP_START"s -s "$WORK/post.lua" "$url/small" >/dev/null 2>&1
done

# name | path | connections | overloaded nodes (node1, node2 or both) | wrk script | reference | targets
# "targets": plain (the default), "https-listener" (wrk speaks TLS to each target's https://
# listener; keep-alive, so a handshake per connection), "https-nodes" (the second pair of
# targets, whose nodes are https://, verified against the bench CA), "untraced" (a proxy with
# Proxy:Tracing:Enabled=false: the client's trace headers passed on untouched) or "exporting" (a
# proxy recording every span and exporting it over OTLP/HTTP to an nginx sink). Every other proxy
# runs the default: trace context on every try, no span recorded.
# "reference": each round also measures the default proxy with no node overloaded, just before or
# after (alternating), so the cost of an overload (or of a tracing setting) is read against a
# default, healthy run of the same moment (this VM drifts).
# The 128 B scenarios at 32 connections all count leaked faults (wrk reads every body, which costs
# it CPU on this shared box), so "node1 overloaded" compares with "healthy" like for like.
SCENARIOS=(
  "healthy, 128 B|/small|32||post-faults.lua"
  "healthy, 128 B, 256 conns|/small|256|"
  "node1 overloaded, 128 B|/small|32|node1|post-faults.lua|reference"
  "both overloaded, 128 B|/small|32|node1 node2|post-faults.lua"
  "healthy, 4 KiB|/4k|32|"
  "healthy, 64 KiB|/64k|32|"
  "healthy, 128 B, https listener|/small|32||||https-listener"
  "healthy, 128 B, https nodes|/small|32||||https-nodes"
  "healthy, 128 B, tracing off|/small|32||post.lua|reference|untraced"
  "healthy, 128 B, tracing exported|/small|32||post.lua|reference|exporting"
)

# target_url <proxy|yarp> <targets>: where that target is measured; target_pid likewise.
target_url() {
  case "$1:$2" in
    proxy:https-listener) echo "https://127.0.0.1:$PROXY_TLS_PORT" ;;
    yarp:https-listener) echo "https://127.0.0.1:$YARP_TLS_PORT" ;;
    proxy:https-nodes) echo "http://127.0.0.1:$PROXY_TLS_NODES_PORT" ;;
    yarp:https-nodes) echo "http://127.0.0.1:$YARP_TLS_NODES_PORT" ;;
    proxy:untraced) echo "http://127.0.0.1:$PROXY_UNTRACED_PORT" ;;
    proxy:exporting) echo "http://127.0.0.1:$PROXY_EXPORTING_PORT" ;;
    proxy:*) echo "http://127.0.0.1:$PROXY_PORT" ;;
    *) echo "http://127.0.0.1:$YARP_PORT" ;;
  esac
}
target_pid() {
  case "$1:$2" in
    proxy:https-nodes) echo "$PROXY_TLS_NODES_PID" ;;
    yarp:https-nodes) echo "$YARP_TLS_NODES_PID" ;;
    proxy:untraced) echo "$PROXY_UNTRACED_PID" ;;
    proxy:exporting) echo "$PROXY_EXPORTING_PID" ;;
    proxy:*) echo "$PROXY_PID" ;;
    *) echo "$YARP_PID" ;;
  esac
}

# One round's YARP run (and the proxy's). Arguments: path, connections, wrk script, targets.
measure_yarp() { measure "$(target_url yarp "$4")$1" "$2" "$3" "$(target_pid yarp "$4")" >> "$WORK/yarp.rounds"; }
measure_proxy() { measure "$(target_url proxy "$4")$1" "$2" "$3" "$(target_pid proxy "$4")" >> "$WORK/proxy.rounds"; }

# The proxy with every node healthy again, for the scenario's reference; the scenario's overload
# flags are put back after. Arguments: path, connections, wrk script, overloaded nodes.
measure_healthy_reference() {
  local path=$1 conns=$2 script=$3 overloaded=$4
  rm -f "$WORK"/node*.overload
  measure "http://127.0.0.1:$PROXY_PORT$path" "$conns" "$script" "$PROXY_PID" >> "$WORK/reference.rounds"
  for node in $overloaded; do touch "$WORK/$node.overload"; done
}


# Medians of the rounds' rates, totals of their counts: one table row per target. "vs YARP" is the
# median of each round's Proxy/YARP ratio: the two ran back to back, so the VM's drift between
# rounds cancels out of each ratio.
summarize() {
  python3 - "$@" <<'PY'
import statistics, sys, os
name, target, base_rounds, rounds, peak = sys.argv[1:6]
read = lambda f: [line.split() for line in open(f) if line.strip()]
rows = read(rounds)
med = lambda i: statistics.median(float(r[i]) for r in rows)
total = lambda i: sum(int(r[i]) for r in rows)
faults = "-" if rows[0][3] == "-" else str(sum(int(r[3]) for r in rows))
requests, calls, node1, ticks = total(4), total(5), total(6), total(8)
hz = os.sysconf("SC_CLK_TCK")
rps = med(0)
ratio, spread = "1.00x", ""
if base_rounds != "-":
    ratios = sorted(float(r[0]) / float(b[0]) for r, b in zip(rows, read(base_rounds)))
    ratio = f"{statistics.median(ratios):.2f}x"
    spread = f"{ratios[0]:.2f}x–{ratios[-1]:.2f}x"
print(f"| {name} | {target} | {rps:.0f} | {med(1):.2f} | {med(2):.2f} | {ratio} | {1e6 * ticks / hz / max(1, requests):.1f} "
      f"| {calls / max(1, requests):.3f} | {100 * node1 / max(1, calls):.2f} % | {total(7)} | {faults} | {peak} |")
print(f"{rps:.0f} {ratio} {spread}", file=sys.stderr)
PY
}

{
  echo "# Proxy vs YARP — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Command: \`$([ "$YARP_BATCH" = 1 ] && echo "YARP_BATCH=1 ")bash bench/run.sh\` (each target first warmed ${WARMUP_START}s at 256 and at 32 connections; then"
  echo "wrk -t$THREADS, $ROUNDS rounds ($REFERENCE_ROUNDS for \"node1 overloaded\") of ${DURATION}s per target, each after ${WARMUP}s warm-up, YARP and Proxy"
  echo "back to back, first in turn; medians of the rounds, totals of their counts; XML-RPC POSTs; two nginx nodes;"
  echo "$YARP_NAME; Proxy with the default classifier chain and the access log on (the default), other logs at Warning)."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), load tool on the same box."
  echo
  echo "| scenario | target | req/s | p50 ms | p99 ms | vs YARP | CPU µs / request | backend calls / request | node1 share of calls | non-2xx | faults leaked | peak RSS MB |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT.tmp"

RATIO_SPREADS=()
REFERENCE_LINES=()
for scenario in "${SCENARIOS[@]}"; do
  IFS='|' read -r name path conns overloaded script reference targets <<<"$scenario"
  [[ -z "${ONLY:-}" || "$name" == *"$ONLY"* ]] || continue
  rm -f "$WORK"/node*.overload
  for node in $overloaded; do touch "$WORK/$node.overload"; done
  script=${script:-post.lua}
  : > "$WORK/yarp.rounds"; : > "$WORK/proxy.rounds"; : > "$WORK/reference.rounds"
  reset_peak_rss "$(target_pid yarp "$targets")"; reset_peak_rss "$(target_pid proxy "$targets")"
  # The overloaded-vs-healthy comparison is a ratio of two noisy runs: it gets more rounds.
  rounds=$ROUNDS
  if [ -n "$reference" ] && [ "$rounds" -lt "$REFERENCE_ROUNDS" ]; then rounds=$REFERENCE_ROUNDS; fi
  for round in $(seq 1 "$rounds"); do
    # YARP goes first in odd rounds and last in even ones, so neither target always follows the
    # other's load. The reference run goes first in every other round, so neither run always
    # follows an idle spell.
    if [ $((round % 2)) -eq 1 ]; then measure_yarp "$path" "$conns" "$script" "$targets"; fi
    if [ -n "$reference" ] && [ $((round % 2)) -eq 0 ]; then measure_healthy_reference "$path" "$conns" "$script" "$overloaded"; fi
    measure_proxy "$path" "$conns" "$script" "$targets"
    if [ -n "$reference" ] && [ $((round % 2)) -eq 1 ]; then measure_healthy_reference "$path" "$conns" "$script" "$overloaded"; fi
    if [ $((round % 2)) -eq 0 ]; then measure_yarp "$path" "$conns" "$script" "$targets"; fi
  done
  if [ -n "$reference" ]; then
    if [ -n "$overloaded" ]; then label="Proxy with $overloaded overloaded vs its own healthy throughput"; against=healthy
    else label="\"$name\" vs the default proxy (trace context on, no span recorded)"; against=default; fi
    REFERENCE_LINES+=("$label: $(python3 - "$WORK/proxy.rounds" "$WORK/reference.rounds" "$against" <<'PY'
import statistics, sys
rates = lambda f: [float(l.split()[0]) for l in open(f) if l.strip()]
runs, references, against = rates(sys.argv[1]), rates(sys.argv[2]), sys.argv[3]
# Each run against the reference run next to it, so the VM's drift cancels out.
ratios = sorted(o / h for o, h in zip(runs, references))
print(f"{statistics.median(ratios):.2f}x, the median of {len(ratios)} rounds' ratios ({ratios[0]:.2f}x–{ratios[-1]:.2f}x; "
      f"{statistics.median(runs):.0f} req/s against {statistics.median(references):.0f} req/s {against})")
PY
)")
  fi
  read -r y_rps _ <<<"$(summarize "$name" YARP - "$WORK/yarp.rounds" "$(peak_rss_mb "$(target_pid yarp "$targets")")" 2>&1 >> "$OUT.tmp")"
  read -r p_rps p_ratio p_spread <<<"$(summarize "$name" Proxy "$WORK/yarp.rounds" "$WORK/proxy.rounds" "$(peak_rss_mb "$(target_pid proxy "$targets")")" 2>&1 >> "$OUT.tmp")"
  RATIO_SPREADS+=("$name: $p_spread")
  echo "$name: YARP $y_rps req/s, Proxy $p_rps req/s ($p_ratio; rounds $p_spread)" >&2
done
rm -f "$WORK"/node*.overload

{
  echo
  echo "\"vs YARP\" is the median of the rounds' Proxy/YARP ratios; each round's two runs are back to back,"
  echo "YARP first in odd rounds, Proxy first in even ones. The rounds' ratios ranged:"
  for spread in "${RATIO_SPREADS[@]}"; do echo "- $spread"; done
  for line in "${REFERENCE_LINES[@]}"; do
    echo
    echo "$line."
  done
  echo
  echo "Peak RSS: the process's VmHWM over the scenario's rounds and warm-ups (reset between scenarios)."
  echo
  echo "\"both overloaded\": YARP delivers the faults as 200s; Proxy answers 503 (non-2xx) and leaks none."
  echo
  echo "\"https listener\": wrk speaks TLS 1.3 to each target's https:// listener (keep-alive: one handshake per"
  echo "connection), certificate from PEM files. \"https nodes\": a second pair of targets whose two nodes are nginx over"
  echo "https://, each node's certificate verified against the bench CA file (YARP: the same check in its"
  echo "certificate callback); the peak RSS of those rows is that second pair's."
  echo
  echo "Tracing: every proxy but two runs the default (each try sends its node a traceparent of the client's trace,"
  echo "no span recorded). \"tracing off\": Proxy:Tracing:Enabled=false. \"tracing exported\": every request's server span"
  echo "and try spans recorded (SampleRatio 1) and exported over OTLP/HTTP to an nginx sink on the same box."
} >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
