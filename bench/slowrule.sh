#!/usr/bin/env bash
# Can clients whose answers are built to be slow to judge hold up everyone else? ATTACKERS
# connections, each sending a request every PACE ms, fetch an answer crafted against the founding
# pattern (a 5.6 KB body of "faultCode", "value", "i4" and "1007" in an order that never matches:
# the backtracking engine tries every split) while 4 other connections make ordinary XML-RPC calls.
# Their median latency is compared with an idle run (no attackers) and with the same attackers
# fetching an ordinary answer (the cost of the load itself). Writes bench/results/slowrule.md.
#   bash bench/slowrule.sh                   # this checkout, three chains
#   BASE=/path/to/Proxy.Host.dll BASE_NAME="bbdbe8e" bash bench/slowrule.sh   # also an older build, default chain
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
ATTACKERS=${ATTACKERS:-16}
PACE=${PACE:-10}
OUT="$ROOT/bench/results/slowrule.md"
FOUNDING='faultCode.+value.+i4.+1007.+i4'

ensure_tools
dotnet build "$ROOT/src/Proxy.Host" -c Release -v q -nologo >/dev/null
trap stop_all EXIT
start_nodes
write_wrk_scripts
python3 - "$WORK/www/crafted.xml" <<'PY'
import sys
n = 400
open(sys.argv[1], "w").write("faultCode " + "value " * n + "i4 " * n + "1007 " * n)
PY
# The attackers' script: post.lua, pacing each connection.
{ cat "$WORK/post.lua"; echo "function delay() return $PACE end"; } > "$WORK/paced.lua"

# p50 (ms) of the ordinary calls, optionally while the attackers fetch the given path.
median() {
  local url=$1 attack=$2 attacker=""
  if [ -n "$attack" ]; then
    wrk -t1 -c"$ATTACKERS" -d"$((DURATION + 2))s" -s "$WORK/paced.lua" "$url$attack" > "$WORK/attack.txt" 2>&1 &
    attacker=$!
    sleep 1
  fi
  wrk -t1 -c4 -d"${DURATION}s" -s "$WORK/post.lua" "$url/small" | awk '/^P50/ { print $2 }'
  if [ -n "$attacker" ]; then wait "$attacker"; fi
}

rows=()
# name | Proxy.Host.dll | settings
chains=(
  "default chain (XmlRpcFault)|$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll|"
  "founding BodyRegex (linear engine)|$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll|--Proxy:Classifiers:0:Name=founding --Proxy:Classifiers:0:Type=BodyRegex --Proxy:Classifiers:0:Verdict=Overloaded --Proxy:Classifiers:0:Pattern=$FOUNDING"
  "founding + lookbehind (backtracking engine, 100 ms timeout)|$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll|--Proxy:Classifiers:0:Name=founding --Proxy:Classifiers:0:Type=BodyRegex --Proxy:Classifiers:0:Verdict=Overloaded --Proxy:Classifiers:0:Pattern=$FOUNDING(?<=i4)"
)
if [ -n "${BASE:-}" ]; then chains=("${BASE_NAME:-BASE}: its default chain|$BASE|" "${chains[@]}"); fi

for chain in "${chains[@]}"; do
  IFS='|' read -r name dll settings <<<"$chain"
  # shellcheck disable=SC2086
  launch_proxy "$dll" "$PROXY_PORT" "$PROXY_DEBUG_PORT" $settings
  pid=$LAUNCHED_PID
  url="http://127.0.0.1:$PROXY_PORT"
  wrk -t1 -c4 -d3s -s "$WORK/post.lua" "$url/small" >/dev/null 2>&1
  wrk -t1 -c4 -d2s -s "$WORK/post.lua" "$url/crafted.xml" >/dev/null 2>&1
  idle=$(median "$url" "")
  ordinary=$(median "$url" /small)
  loaded=$(median "$url" /crafted.xml)
  attack_rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/attack.txt")
  # Timeouts and other faults of the rules (builds before ADR 0011 counted a timeout as a fault).
  timeouts=$(curl -s "http://127.0.0.1:$PROXY_DEBUG_PORT/debug/actors" | { grep -oE '(timeouts|faults|skipped)=[0-9]+' || true; } | awk -F= '{ s += $2 } END { print s + 0 }')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  row=$(python3 -c "import sys; i, o, l = map(float, sys.argv[2:5]); print(f'| {sys.argv[1]} | {i:.2f} ms | {o:.2f} ms | {l:.2f} ms | {l / i:.2f}x | {l / o:.2f}x | {float(sys.argv[5]):.0f} | {sys.argv[6]} |')" "$name" "$idle" "$ordinary" "$loaded" "$attack_rps" "$timeouts")
  echo "$row"; rows+=("$row")
done

{
  echo "# Slow-rule bodies: other clients' median latency (\`bash bench/slowrule.sh\`)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores. $ATTACKERS connections, each sending a request every $PACE ms, fetch a 5.6 KB"
  echo "answer crafted against the founding pattern while 4 connections make ordinary XML-RPC calls for"
  echo "${DURATION} s. Idle: the 4 alone. Ordinary load: the same $ATTACKERS connections fetching an ordinary answer."
  echo
  echo "| chain | p50 idle | p50, ordinary load | p50 under attack | vs idle | vs ordinary load | crafted answers/s | rule timeouts, faults, skips (of the actors that answered /debug/actors) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} > "$OUT"
echo "wrote $OUT"
