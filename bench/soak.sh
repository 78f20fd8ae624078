#!/usr/bin/env bash
# A bounded soak: steady load on the proxy while node1 flaps between overloaded and healthy
# every second. Every interval it reports requests, failures (non-2xx, socket errors, leaked
# faults), proxy RSS, and RequestActors busy and idle; RSS must stay flat, no RequestActor stay
# busy, and the idle ones stay within the connections (the supervisors reuse them).
#   bash bench/soak.sh                  # 10 minutes
#   MINUTES=2 bash bench/soak.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MINUTES=${MINUTES:-10}
INTERVAL=${INTERVAL:-30}
CONNECTIONS=${CONNECTIONS:-64}
OUT="$ROOT/bench/results/soak.md"

ensure_tools
build
trap 'kill "$FLAPPER" 2>/dev/null || true; stop_all' EXIT
start_nodes
write_wrk_scripts
start_proxy --Proxy:Overload:RestoreInterval=00:00:02

( while true; do touch "$WORK/node1.overload"; sleep 1; rm -f "$WORK/node1.overload"; sleep 1; done ) &
FLAPPER=$!

# "busy | idle" RequestActors, from the pool's line in /debug/actors.
request_actors() {
  curl -s "http://127.0.0.1:$PROXY_DEBUG_PORT/debug/actors" | python3 -c \
    'import json,sys; a=json.load(sys.stdin)["actors"]; r=[x for x in a if x["path"]=="/user/requests"][0]; s=dict(kv.split("=") for kv in r["state"].split()); print(s["inFlight"], "|", s["idle"])'
}
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$PROXY_PID/status"; }

{
  echo "# Soak — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Command: \`MINUTES=$MINUTES bash bench/soak.sh\` ($CONNECTIONS connections, node1 flapping every second, restore tick 2 s)."
  echo
  echo "| minute | requests | req/s | failures | faults leaked | RSS MB | busy RequestActors | idle RequestActors |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT.tmp"

total=0; failed=0; leaked=0
end=$(( $(date +%s) + MINUTES * 60 ))
while [ "$(date +%s)" -lt "$end" ]; do
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${INTERVAL}s" -s "$WORK/post-faults.lua" "http://127.0.0.1:$PROXY_PORT/small" 2>&1)
  echo "$out" > "$WORK/logs/wrk-$(date +%s).txt"
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out"); errors=${errors:-0}
  faults=$(awk '/^FAULTS/ { print $2 }' <<<"$out")
  actors=$(request_actors)
  total=$((total + requests)); failed=$((failed + non2xx + errors)); leaked=$((leaked + faults))
  minute=$(python3 -c "print(f'{($MINUTES*60 - ($end - $(date +%s)))/60:.1f}')")
  echo "| $minute | $requests | $rps | $((non2xx + errors)) | $faults | $(rss_mb) | $actors |" | tee -a "$OUT.tmp"
done

{
  echo
  echo "Total: $total requests, $failed failures, $leaked faults leaked; peak RSS $(peak_rss_mb "$PROXY_PID") MB."
} >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
[ "$failed" -eq 0 ] && [ "$leaked" -eq 0 ]
