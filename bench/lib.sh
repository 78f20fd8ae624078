# Shared by bench/run.sh, bench/soak.sh, bench/ab.sh, bench/sched.sh and bench/counters.sh: tools,
# two nginx nodes, the proxy and the YARP baseline.
# Sourced, not run. Everything lives under $WORK and listens on loopback only.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp/proxy-bench}
NODE1_PORT=18081 NODE2_PORT=18082 PROXY_PORT=18000 PROXY_DEBUG_PORT=18001 YARP_PORT=18100
# TLS: the same nodes over https (nginx), and each target's https:// listener.
NODE1_TLS_PORT=18091 NODE2_TLS_PORT=18092 PROXY_TLS_PORT=18443 YARP_TLS_PORT=18543
# An OTLP/HTTP sink (nginx answering 200 to every export), for the proxy that exports its spans.
COLLECTOR_PORT=18070
PIDS=()

ensure_tools() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${missing[@]}" >/dev/null; }
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

# dotnet-counters on PATH, else installed under $WORK-tools ($WORK is cleared per run): its path in COUNTERS.
ensure_counters() {
  COUNTERS=$(command -v dotnet-counters || true)
  if [ -z "$COUNTERS" ]; then
    COUNTERS="$WORK-tools/dotnet-counters"
    [ -x "$COUNTERS" ] || dotnet tool install dotnet-counters --tool-path "$WORK-tools" >/dev/null
  fi
}

build() {
  dotnet build "$ROOT/src/Proxy.Host" -c Release -v q -nologo >/dev/null
  dotnet build "$ROOT/bench/YarpBaseline" -c Release -v q -nologo >/dev/null
}

# XML-RPC answers of the sizes the scenarios ask for; node1 answers the overload fault while
# $WORK/node1.overload exists (node2 while $WORK/node2.overload exists).
start_nodes() {
  stop_nodes; rm -rf "$WORK"; mkdir -p "$WORK/www" "$WORK/logs"
  make_certificates
  python3 - "$WORK/www" <<'PY'
import sys
root = sys.argv[1]
def answer(size):
    head = '<?xml version="1.0"?>\n<methodResponse><params><param><value><string>'
    tail = '</string></value></param></params></methodResponse>\n'
    return head + "x" * max(0, size - len(head) - len(tail)) + tail
for name, size in (("small", 128), ("4k", 4096), ("64k", 65536)):
    open(f"{root}/{name}.xml", "w").write(answer(size))
open(f"{root}/fault.xml", "w").write(
    '<?xml version="1.0"?>\n<methodResponse><fault><value><struct>\n'
    '<member><name>faultCode</name><value><i4>1007</i4></value></member>\n'
    '<member><name>faultString</name><value><string>overloaded</string></value></member>\n'
    '</struct></value></fault></methodResponse>\n')
PY
  cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  keepalive_requests 1000000;
  default_type text/xml;
  log_format calls '.';
$(server_block 1 $NODE1_PORT $NODE1_TLS_PORT)
$(server_block 2 $NODE2_PORT $NODE2_TLS_PORT)
  server {
    listen 127.0.0.1:$COLLECTOR_PORT;
    location / { return 200; }
  }
}
CONF
  mkdir -p "$WORK/tmp"
  "$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
}

# A private CA ($WORK/tls/ca.pem) and one server certificate for localhost and 127.0.0.1
# ($WORK/tls/server.pem, server.key), shown by the https:// nodes and listeners.
make_certificates() {
  mkdir -p "$WORK/tls" && (
    cd "$WORK/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Bench CA" -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out server.pem -extfile server.ext 2>/dev/null
  )
}

# One nginx node: node$1 on port $2 (and over TLS on $3), answering the fault while
# $WORK/node$1.overload exists.
server_block() {
  cat <<BLOCK
  server {
    listen 127.0.0.1:$2;
    listen 127.0.0.1:$3 ssl;
    ssl_certificate $WORK/tls/server.pem;
    ssl_certificate_key $WORK/tls/server.key;
    access_log $WORK/logs/node$1.log calls buffer=64k;
    root $WORK/www;
    error_page 405 =200 \$uri;
    location / {
      if (-f $WORK/node$1.overload) { rewrite ^ /fault.xml break; }
      rewrite ^/(small|4k|64k)\$ /\$1.xml break;
    }
  }
BLOCK
}

# Two more proxies like PROXY_PORT's: one with Proxy:Tracing:Enabled=false, one exporting every
# span over OTLP/HTTP to the sink; their ports and pids in PROXY_UNTRACED_PORT/PID and
# PROXY_EXPORTING_PORT/PID.
PROXY_UNTRACED_PORT=18020 PROXY_UNTRACED_DEBUG_PORT=18021 PROXY_EXPORTING_PORT=18030 PROXY_EXPORTING_DEBUG_PORT=18031
start_tracing_targets() {
  launch_proxy "$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll" "$PROXY_UNTRACED_PORT" "$PROXY_UNTRACED_DEBUG_PORT" --Proxy:Tracing:Enabled=false
  PROXY_UNTRACED_PID=$LAUNCHED_PID
  launch_proxy "$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll" "$PROXY_EXPORTING_PORT" "$PROXY_EXPORTING_DEBUG_PORT" \
    --Proxy:Tracing:OtlpEndpoint=http://127.0.0.1:$COLLECTOR_PORT --Proxy:Tracing:SampleRatio=1
  PROXY_EXPORTING_PID=$LAUNCHED_PID
}

stop_nodes() { [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; }

# Lines in the nodes' access logs so far (nginx buffers them: reopen flushes).
backend_calls() {
  kill -USR1 "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null; sleep 0.3
  local n1 n2; n1=$(wc -l < "$WORK/logs/node1.log" 2>/dev/null || echo 0); n2=$(wc -l < "$WORK/logs/node2.log" 2>/dev/null || echo 0)
  echo "$n1 $n2"
}

# launch_proxy <Proxy.Host.dll> <port> <debug port> [options]: a proxy in front of the two nodes,
# logging to $WORK/logs/proxy-<port>.log; returns once it is ready, its pid in LAUNCHED_PID.
# NODES_TLS=1: the nodes over https://, verified against the bench CA.
launch_proxy() {
  local dll=$1 port=$2 debug_port=$3; shift 3
  local nodes=(--Proxy:Nodes:0:Name=node1 --Proxy:Nodes:0:Address=http://127.0.0.1:$NODE1_PORT
               --Proxy:Nodes:1:Name=node2 --Proxy:Nodes:1:Address=http://127.0.0.1:$NODE2_PORT)
  if [ "${NODES_TLS:-0}" = 1 ]; then
    nodes=(--Proxy:Nodes:0:Name=node1 --Proxy:Nodes:0:Address=https://localhost:$NODE1_TLS_PORT --Proxy:Nodes:0:Tls:CaFile=$WORK/tls/ca.pem
           --Proxy:Nodes:1:Name=node2 --Proxy:Nodes:1:Address=https://localhost:$NODE2_TLS_PORT --Proxy:Nodes:1:Tls:CaFile=$WORK/tls/ca.pem)
  fi
  dotnet "$dll" \
    --Proxy:Listen=http://127.0.0.1:$port --Proxy:Debug:Listen=http://127.0.0.1:$debug_port \
    "${nodes[@]}" --Serilog:MinimumLevel:Default=Warning "$@" > "$WORK/logs/proxy-$port.log" 2>&1 &
  LAUNCHED_PID=$!; PIDS+=("$LAUNCHED_PID")
  wait_http "http://127.0.0.1:$debug_port/readyz"
}

# This checkout's proxy on PROXY_PORT; its pid in PROXY_PID.
start_proxy() {
  launch_proxy "$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll" "$PROXY_PORT" "$PROXY_DEBUG_PORT" "$@"
  PROXY_PID=$LAUNCHED_PID
}

start_yarp() {
  launch_yarp "$YARP_PORT" "http://127.0.0.1:$NODE1_PORT,http://127.0.0.1:$NODE2_PORT" "$@"
  YARP_PID=$LAUNCHED_PID
}

# launch_yarp <port> <nodes> [options]: the YARP baseline; its pid in LAUNCHED_PID.
launch_yarp() {
  local port=$1 nodes=$2; shift 2
  dotnet "$ROOT/bench/YarpBaseline/bin/Release/net10.0/YarpBaseline.dll" --urls "http://127.0.0.1:$port" \
    --nodes "$nodes" "$@" > "$WORK/logs/yarp-$port.log" 2>&1 &
  LAUNCHED_PID=$!; PIDS+=("$LAUNCHED_PID")
  wait_http "http://127.0.0.1:$port/small" POST
}

# Each target with an https:// listener too (PROXY_TLS_PORT, YARP_TLS_PORT), showing the bench
# certificate, and a second pair whose nodes are https:// (verified against the bench CA): their
# ports and pids in PROXY_TLS_NODES_PORT/PID and YARP_TLS_NODES_PORT/PID.
PROXY_TLS_NODES_PORT=18010 PROXY_TLS_NODES_DEBUG_PORT=18011 YARP_TLS_NODES_PORT=18110
tls_listener_options_proxy() {
  echo "--Proxy:Listen=http://127.0.0.1:$PROXY_PORT;https://127.0.0.1:$PROXY_TLS_PORT --Proxy:Tls:CertificateFile=$WORK/tls/server.pem --Proxy:Tls:KeyFile=$WORK/tls/server.key"
}
start_tls_node_targets() {
  NODES_TLS=1 launch_proxy "$ROOT/src/Proxy.Host/bin/Release/net10.0/Proxy.Host.dll" "$PROXY_TLS_NODES_PORT" "$PROXY_TLS_NODES_DEBUG_PORT"
  PROXY_TLS_NODES_PID=$LAUNCHED_PID
  launch_yarp "$YARP_TLS_NODES_PORT" "https://localhost:$NODE1_TLS_PORT,https://localhost:$NODE2_TLS_PORT" --ca "$WORK/tls/ca.pem"
  YARP_TLS_NODES_PID=$LAUNCHED_PID
}

wait_http() {
  local method=${2:-GET}
  for _ in $(seq 1 100); do curl -sf -o /dev/null -X "$method" "$1" && return 0; sleep 0.2; done
  echo "not answering: $1" >&2; return 1
}

# measure <url> <connections> <wrk script> <pid>: one wrk run of DURATION seconds with THREADS
# threads, after a WARMUP-second one (the caller sets all three):
# "rps p50 p99 faults requests backend_calls node1_calls non2xx cpu_ticks"
measure() {
  local url=$1 conns=$2 script=$3 pid=$4
  wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" -s "$WORK/$script" "$url" >/dev/null 2>&1
  local out b1 b2 a1 a2 c0 c1
  read -r b1 b2 <<<"$(backend_calls)"
  c0=$(cpu_ticks "$pid")
  out=$(wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" -s "$WORK/$script" "$url" 2>&1)
  c1=$(cpu_ticks "$pid")
  read -r a1 a2 <<<"$(backend_calls)"
  local non2xx
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out"); non2xx=${non2xx:-0}
  echo "$(awk '/Requests\/sec/ { print $2 }' <<<"$out") $(awk '/^P50/ { print $2 }' <<<"$out") $(awk '/^P99/ { print $2 }' <<<"$out")" \
    "$(awk '/^FAULTS/ { print $2 }' <<<"$out") $(awk '/requests in/ { print $1 }' <<<"$out")" \
    "$(( (a1 - b1) + (a2 - b2) )) $(( a1 - b1 )) $non2xx $(( c1 - c0 ))"
}

# report <round> <name> <port> <pid>: one line of figures from measure, at CONNECTIONS.
report() {
  local rps p99 requests ticks
  read -r rps _ p99 _ requests _ _ _ ticks <<<"$(measure "http://127.0.0.1:$3/small" "$CONNECTIONS" post.lua "$4")"
  python3 - "$1" "$2" "$rps" "$p99" "$requests" "$ticks" <<'PY'
import os, sys
round_, name, rps, p99, requests, ticks = sys.argv[1:]
cpu = 1e6 * int(ticks) / os.sysconf("SC_CLK_TCK") / max(1, int(requests))
print(f"round {round_}  {name}  {float(rps):8.0f} req/s  p99 {float(p99):6.2f} ms  {cpu:5.1f} µs CPU / request")
PY
}

# schedule_socket_threads <pid> <chrt policy flag, e.g. --batch>: on every ".NET Sockets" thread
# (the runtime's socket event threads) of that process; ADR 0010.
schedule_socket_threads() {
  local task found=0
  for task in /proc/"$1"/task/*; do
    if [ "$(cat "$task/comm" 2>/dev/null)" = ".NET Sockets" ]; then
      chrt "$2" -p 0 "${task##*/}"; found=1
    fi
  done
  [ "$found" -eq 1 ] || { echo "no .NET Sockets thread in process $1" >&2; return 1; }
}

# Process CPU time (user + system) in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Peak RSS since the last reset (VmHWM), and its reset, so each scenario reports its own peak.
reset_peak_rss() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }

peak_rss_mb() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_nodes
}

# wrk scripts: XML-RPC POSTs. post.lua only measures; post-faults.lua also counts answers that
# leaked the overload fault (reading every body costs wrk time, so only overload scenarios use it).
write_wrk_scripts() {
  cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '<?xml version="1.0"?><methodCall><methodName>ping</methodName></methodCall>'
wrk.headers["Content-Type"] = "text/xml"
function done(summary, latency, requests)
  io.write(string.format("P50 %.3f\nP99 %.3f\nFAULTS -\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
  cat > "$WORK/post-faults.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '<?xml version="1.0"?><methodCall><methodName>ping</methodName></methodCall>'
wrk.headers["Content-Type"] = "text/xml"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) faults = 0 end
function response(status, headers, body)
  if body and string.find(body, "faultCode", 1, true) then faults = faults + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("faults") or 0) end
  io.write(string.format("P50 %.3f\nP99 %.3f\nFAULTS %d\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, total))
end
LUA
}
