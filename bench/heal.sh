#!/usr/bin/env bash
# Heal and mark-travel times of a real-process fleet on loopback (issue 19): runs the fleet
# scenarios ROUNDS times (default 5) and prints each figure's median.
#   bash bench/heal.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=$(mktemp -d)
dotnet build tests/Proxy.Host.Tests -c Release >/dev/null
for i in $(seq 1 "$rounds"); do
  dotnet test tests/Proxy.Host.Tests -c Release --no-build --filter "FullyQualifiedName~FleetTests" \
    --logger "console;verbosity=detailed" > "$out/round$i.log" 2>&1 || { echo "round $i failed: $out/round$i.log"; exit 1; }
done
python3 - "$out" <<'PY'
import glob, re, statistics, sys
figures = {}
for path in sorted(glob.glob(sys.argv[1] + "/round*.log")):
    test = None
    for line in open(path):
        m = re.match(r"\s+Passed Proxy\.Host\.Tests\.FleetTests\.(.+?) \[", line)
        if m:
            test = m.group(1)
            continue
        m = re.match(r"\s*(healed|formed|mark travelled)\D*?(\d+):(\d+):(\d+\.\d+)", line)
        if m and test:
            seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
            figures.setdefault((test, m.group(1)), []).append(seconds)
print("| scenario | figure | median | min | max | n |\n|---|---|---|---|---|---|")
for (test, kind), values in sorted(figures.items()):
    print(f"| {test.replace('_', ' ')} | {kind} | {statistics.median(values):.2f} s | {min(values):.2f} s | {max(values):.2f} s | {len(values)} |")
PY
