#!/usr/bin/env bash
#
# Benchmark of ngx_http_lfv_module against plain proxy_pass (make bench).
#
#   bench/run.sh                    signer micro-benchmark, throughput and
#                                   latency (A B A B ...), credentials wait
#                                   check, StartModel latency with the
#                                   DynamoDB store against the zone (store:
#                                   needs make dynalite); about 4 minutes
#                                   on 2 cores
#   BENCH_QUICK=1 bench/run.sh      the same, short (about 1.5 minutes)
#   BENCH_SOAK=1 bench/run.sh       the soak only: ~1M requests per module
#                                   configuration, worker RSS before and
#                                   after (make bench-soak; ~3-5 minutes)
#   BENCH_PARTS="signer throughput wait perf callgrind soak store" bench/run.sh
#                                   pick parts (perf: where the proxy's
#                                   time goes, per request; callgrind:
#                                   instructions per request, immune to
#                                   noise; each ~1-2 min, not by default)
#
# Settings (environment):
#   BENCH_DURATION=4      seconds per wrk run
#   BENCH_ROUNDS=7        rounds; each round runs every configuration once
#   BENCH_CONNS="1 32"    client connections to measure
#   BENCH_WARMUP=2        seconds of warm-up per configuration
#   BENCH_WORKERS=1       proxy worker_processes (throughput, wait check)
#   BENCH_PIN=0           1: pin the proxy to CPU 0 and the stub, the
#                         simulators and wrk to the others.  Off by default:
#                         on the 2-vCPU VMs measured, a wake-up across vCPUs
#                         costs ~100 us and pinning made the proxy idle
#   BENCH_WAIT_DURATION=15   seconds of load while IMDS credentials rotate
#   BENCH_SOAK_REQUESTS=1000000  requests per soak run
#   BENCH_SOAK_CONFIGS="module-static module-imds"  configurations soaked
#   BENCH_SOAK_SETTLE=15  RSS "before": the first sample this many seconds
#                         into the soak run ("after": the last one)
#   BENCH_SOAK_WORKERS=2  proxy workers during the soak (not pinned)
#   BENCH_SOAK_MAX=900    time bound of one soak run, seconds
#   BENCH_SIGNER_N=50000  signer iterations per round (BENCH_SIGNER_R=11)
#   BENCH_CG_REQUESTS=5000   requests counted per configuration by the
#                         callgrind part (BENCH_PARTS=callgrind; valgrind)
#   BENCH_PERF_ROUNDS=2   rounds of the perf part
#   BENCH_OUT=build/bench results go to $BENCH_OUT/<date-time>/
#   BENCH_KEEP=1          keep the temporary prefix (configs, logs)
#   NGINX_BIN=/usr/sbin/nginx  MODULE=build/objs/ngx_http_lfv_module.so
#
# Everything listens on 127.0.0.1 on free ports; every process started
# here is stopped on exit; every wait is bounded.

# R_* are set by eval from wrk's RESULT line
# shellcheck disable=SC2154
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
PY=/usr/bin/python3

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/objs/ngx_http_lfv_module.so}
PARAMS=$ROOT/ngx_lfv_module/lfv_proxy_params
NGINX_SRC=${NGINX_SRC:-/usr/share/nginx/src}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    : "${BENCH_DURATION:=3}" "${BENCH_ROUNDS:=3}" "${BENCH_WARMUP:=1}"
    : "${BENCH_WAIT_DURATION:=8}" "${BENCH_SIGNER_N:=20000}"
    : "${BENCH_SIGNER_R:=5}" "${BENCH_SOAK_REQUESTS:=100000}"
fi

BENCH_DURATION=${BENCH_DURATION:-4}
BENCH_ROUNDS=${BENCH_ROUNDS:-7}
BENCH_CONNS=${BENCH_CONNS:-1 32}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_WORKERS=${BENCH_WORKERS:-1}
BENCH_PIN=${BENCH_PIN:-0}
BENCH_WAIT_DURATION=${BENCH_WAIT_DURATION:-15}
BENCH_SOAK_REQUESTS=${BENCH_SOAK_REQUESTS:-1000000}
BENCH_SOAK_CONFIGS=${BENCH_SOAK_CONFIGS:-module-static module-imds}
BENCH_SOAK_SETTLE=${BENCH_SOAK_SETTLE:-15}
BENCH_SOAK_WORKERS=${BENCH_SOAK_WORKERS:-2}
BENCH_SOAK_MAX=${BENCH_SOAK_MAX:-900}
BENCH_SIGNER_N=${BENCH_SIGNER_N:-50000}
BENCH_SIGNER_R=${BENCH_SIGNER_R:-11}
BENCH_CG_REQUESTS=${BENCH_CG_REQUESTS:-5000}
BENCH_PERF_ROUNDS=${BENCH_PERF_ROUNDS:-2}
BENCH_OUT=${BENCH_OUT:-$ROOT/build/bench}

if [ -n "${BENCH_PARTS:-}" ]; then
    PARTS=$BENCH_PARTS
elif [ "${BENCH_SOAK:-0}" = 1 ]; then
    PARTS="soak"
else
    PARTS="signer throughput wait store"
fi

CONFIGS="baseline module-static module-imds"
URI=/2020-11-20/projects/bench-project/models/1/start
HOST=lookoutvision.us-east-1.amazonaws.com

log() { echo "[bench $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
has_part() { [[ " $PARTS " == *" $1 "* ]]; }


# ---------------------------------------------------------------- setup

[ -x "$NGINX_BIN" ] || die "$NGINX_BIN not found"
[ -f "$MODULE" ] || die "$MODULE not found: run make first"
[ -x "$PY" ] || die "$PY not found"

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "installing wrk"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
            || { apt-get update -qq && \
                 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk \
                     >/dev/null; }
    fi
    command -v wrk >/dev/null || die "wrk is missing: apt-get install -y wrk"
fi

NPROC=$(nproc)

if [ "$BENCH_PIN" = 1 ] && [ "$BENCH_WORKERS" -lt "$NPROC" ]; then
    PROXY_CPUS=0-$((BENCH_WORKERS - 1))
    OTHER_CPUS=$BENCH_WORKERS-$((NPROC - 1))
    PIN_PROXY=(taskset -c "$PROXY_CPUS")
    PIN_OTHER=(taskset -c "$OTHER_CPUS")
else
    BENCH_PIN=0
    PROXY_CPUS=all OTHER_CPUS=all
    PIN_PROXY=() PIN_OTHER=()
fi

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/$STAMP
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lfv-bench.XXXXXX)
chmod 755 "$WORK"

# a copy: a rebuild during the benchmark does not change what is measured
cp "$MODULE" "$WORK/ngx_http_lfv_module.so"
MODULE_SRC=$MODULE
MODULE=$WORK/ngx_http_lfv_module.so
cp "$PARAMS" "$WORK/lfv_proxy_params"
PARAMS=$WORK/lfv_proxy_params

STARTED=()          # pids of the processes started here
PROBES=0            # uprobes added here

cleanup() {
    local pid i alive

    trap - EXIT INT TERM
    set +e

    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done

    for i in $(seq 50); do
        alive=0
        for pid in "${STARTED[@]}"; do
            running "$pid" && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done

    for pid in "${STARTED[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done

    wait 2>/dev/null

    if [ $PROBES = 1 ]; then
        perf probe -q -d 'probe_ngx_http_lfv_module:*' 2>/dev/null
    fi

    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait until 127.0.0.1:$1 accepts, at most $2 tenths of a second
wait_port() {
    local i
    for i in $(seq "${2:-100}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

workers_of() {
    local pid
    for pid in $(ps -o pid= --ppid "$1"); do
        grep -q 'worker process' "/proc/$pid/cmdline" 2>/dev/null \
            && echo "$pid"
    done
}

cpu_ticks() {      # utime + stime of the given pids
    local t=0 pid
    for pid in "$@"; do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo $t
}

cpu_ns() {         # time on a CPU of the given pids, ns (schedstat)
    local t=0 pid
    for pid in "$@"; do
        t=$((t + $(awk '{ print $1 }' "/proc/$pid/schedstat")))
    done
    echo $t
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }
total_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t }' /proc/stat; }
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

CLK_TCK=$(getconf CLK_TCK)


# ------------------------------------------------------- machine description

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $NPROC"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "kernel: $(uname -sr)"
    echo "nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')"
    echo "openssl: $(openssl version)"
    echo "nginx built with: $("$NGINX_BIN" -V 2>&1 | sed -n 's/^built with //p')"
    echo "wrk: $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
    echo "module sha256: $(sha256sum "$MODULE" | cut -c1-16)"
    echo "module: $MODULE_SRC ($(sed -n 's/^CFLAGS = *//p' "$ROOT/build/objs/Makefile" 2>/dev/null | head -1))"
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "pinning: proxy cpus $PROXY_CPUS, stub/simulators/wrk cpus $OTHER_CPUS"
    echo "parts: $PARTS"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "busiest other processes at start (%cpu, command):"
    ps -eo pcpu=,comm= --sort=-pcpu | head -4 | sed 's/^/    /'
    echo "settings: duration ${BENCH_DURATION}s rounds $BENCH_ROUNDS conns '$BENCH_CONNS' warmup ${BENCH_WARMUP}s workers $BENCH_WORKERS"
} > "$OUT/machine.txt"

STEAL0=$(steal_ticks)
TOTAL0=$(total_ticks)


# ------------------------------------------------------------ certificates

make_certs() {
    local d=$WORK/pki

    mkdir -p "$d"

    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=lfv bench CA" \
        2>/dev/null

    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=$HOST" \
        2>/dev/null

    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$HOST" > "$d/ext.cnf"

    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" \
        2>/dev/null
}


# ----------------------------------------------------------------- nginx

# globals shared by every instance: prefix $1, workers $2
nginx_globals() {
    cat <<EOF
daemon off;
master_process on;
user root;
worker_processes $2;
pid $1/nginx.pid;
error_log $1/error.log info;
worker_rlimit_nofile 8192;

events {
    worker_connections 4096;
}
EOF
}

nginx_http_globals() {
    cat <<EOF
    ${2:-access_log off;}
    client_body_temp_path $1/client_body_temp;
    proxy_temp_path $1/proxy_temp;
    fastcgi_temp_path $1/fastcgi_temp;
    uwsgi_temp_path $1/uwsgi_temp;
    scgi_temp_path $1/scgi_temp;

    keepalive_requests 10000000;
    keepalive_timeout 300s;
EOF
}

# start_nginx name cpu-pin... : runs $WORK/name/nginx.conf, sets NGINX_PID
start_nginx() {
    local name=$1 d=$WORK/$1 port
    shift

    port=$(cat "$d/port")

    "$NGINX_BIN" -t -q -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" \
        || die "$name: nginx -t failed: $(tail -5 "$d/error.log")"

    "$@" "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" \
        >>"$d/stdout.log" 2>&1 &
    NGINX_PID=$!
    STARTED+=("$NGINX_PID")
    echo "$NGINX_PID" > "$d/master"

    wait_port "$port" 100 || die "$name did not start: $(tail -5 "$d/error.log")"

    local i
    for i in $(seq 50); do
        [ -n "$(workers_of "$NGINX_PID")" ] && return 0
        sleep 0.1
    done

    die "$name: no worker process"
}

stop_pid() {
    local pid=$1 i

    kill -QUIT "$pid" 2>/dev/null || return 0

    for i in $(seq 100); do
        running "$pid" || break
        sleep 0.1
    done

    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# the upstream stub: stock nginx, no module, answers the route with 202
start_stub() {
    local d=$WORK/stub port

    mkdir -p "$d"
    port=$(free_port)
    echo "$port" > "$d/port"

    {
        nginx_globals "$d" 1
        cat <<EOF

http {
$(nginx_http_globals "$d")

    server {
        listen 127.0.0.1:$port ssl;

        ssl_certificate $WORK/pki/server.pem;
        ssl_certificate_key $WORK/pki/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:1m;

        location ~ ^/2020-11-20/projects/[^/]+/models/[^/]+/start\$ {
            default_type application/json;
            add_header x-amzn-RequestId 6c1f2a8e-0000-4000-8000-000000000000;
            return 202 '{"Status":"STARTING_HOSTING"}';
        }

        location / {
            return 404;
        }
    }
}
EOF
    } > "$d/nginx.conf"

    start_nginx stub "${PIN_OTHER[@]}"
    STUB_PORT=$port
    STUB_PID=$NGINX_PID
}

# proxy configurations: baseline, module-static, module-imds[-rot]
# write_proxy name workers [imds-port] [extra http lines] [access_log]
write_proxy() {
    local name=$1 workers=$2 imds=${3:-} extra=${4:-} d=$WORK/$1 port
    local alog=${5:-}
    local creds="" lfv=""
    local pass="proxy_pass https://$HOST;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_ssl_verify on;
            proxy_ssl_server_name on;"

    mkdir -p "$d"
    port=$(free_port)
    echo "$port" > "$d/port"

    case $name in
    *baseline)
        ;;
    *module-static)
        creds="lfv_credentials static access_key_id=AKIDBENCH00000000001
                    secret_access_key=bench/secret+key/00000000000000000000001;"
        lfv="lfv on;
            lfv_region us-east-1;"
        pass="include $PARAMS;"
        ;;
    *module-imds*)
        creds="lfv_credentials imds endpoint=http://127.0.0.1:$imds;"
        lfv="lfv on;
            lfv_region us-east-1;"
        pass="include $PARAMS;"
        ;;
    esac

    {
        echo "load_module $MODULE;"
        echo
        nginx_globals "$d" "$workers"
        cat <<EOF

http {
$(nginx_http_globals "$d" "#")
$extra
    ${alog:-access_log off;}

    $creds

    upstream $HOST {
        server 127.0.0.1:$STUB_PORT;
        keepalive 64;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            $lfv

            $pass
            proxy_ssl_trusted_certificate $WORK/pki/ca.pem;
            proxy_ssl_session_reuse on;
        }
    }
}
EOF
    } > "$d/nginx.conf"
}

# start_imds name args...: sets IMDS_PORT
start_imds() {
    local name=$1 d=$WORK/$1 i
    shift

    mkdir -p "$d"
    "${PIN_OTHER[@]}" "$PY" "$ROOT/t/sim/imds_sim.py" --dir "$d" --port 0 "$@" \
        >"$d/sim.log" 2>&1 &
    STARTED+=("$!")

    for i in $(seq 200); do
        [ -s "$d/ready" ] && break
        sleep 0.1
    done

    [ -s "$d/ready" ] || die "$name did not start: $(tail -5 "$d/sim.log")"
    IMDS_PORT=$(cat "$d/ready")
}

imds_counter() {      # port name
    "$PY" - "$1" "$2" <<'EOF'
import json, sys, urllib.request
u = "http://127.0.0.1:%s/_sim/counters" % sys.argv[1]
print(json.load(urllib.request.urlopen(u, timeout=5)).get(sys.argv[2], 0))
EOF
}

# one request through a proxy, until it is answered 202 (bounded)
prime() {
    local port=$1 i code

    for i in $(seq 50); do
        code=$("$PY" - "$port" "$URI" <<'EOF'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("POST", sys.argv[2], body=b'{"MinInferenceUnits":1}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); print(r.status)
except Exception as e:
    print(0)
EOF
)
        [ "$code" = 202 ] && return 0
        sleep 0.2
    done

    die "no 202 through port $port (last status $code)"
}

# user + system CPU seconds of the reaped children of this shell, into
# CHILDREN_CPU (not a function's output: $(...) would be a subshell,
# whose own children are none)
children_cpu() {
    times > "$WORK/times"
    CHILDREN_CPU=$(awk 'NR == 2 { t = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
        print t }' "$WORK/times")
}

running() {        # a live process, not a zombie
    local s
    s=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    [ -n "$s" ] && [ "$s" != Z ]
}

forget() {         # a process of ours that has been reaped
    local i
    for i in "${!STARTED[@]}"; do
        [ "${STARTED[$i]}" = "$1" ] && unset 'STARTED[i]'
    done
    return 0
}

# run_wrk port conns seconds outfile [max-requests]: sets R_* from RESULT.
# With max-requests the wrk thread stops after that many responses and
# start.lua drops a file; wrk's main thread sleeps out -d whatever its
# threads do, so it is then told to finish with SIGINT.  Bounded: wrk
# gets SIGINT at seconds + 60 at the latest, SIGKILL 10 s later.
run_wrk() {
    local port=$1 conns=$2 secs=$3 out=$4 max=${5:-0}
    local pid i deadline c0 c1 rc=0

    rm -f "$out.done"
    children_cpu
    c0=$CHILDREN_CPU

    BENCH_MAX_REQUESTS=$max BENCH_DONE_FILE=$out.done BENCH_PATH=$URI \
        "${PIN_OTHER[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s \
        -s "$BENCH/start.lua" "http://127.0.0.1:$port$URI" > "$out" 2>&1 &
    pid=$!
    STARTED+=("$pid")

    deadline=$((SECONDS + secs + 60))

    while running "$pid"; do
        if [ -e "$out.done" ] || [ $SECONDS -ge $deadline ]; then
            kill -INT "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done

    for i in $(seq 100); do
        running "$pid" || break
        sleep 0.1
    done

    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    forget "$pid"
    children_cpu
    c1=$CHILDREN_CPU

    [ $rc = 0 ] || die "wrk failed ($rc): $(tail -5 "$out")"

    local line
    line=$(grep '^RESULT ' "$out" | tail -1)
    [ -n "$line" ] || die "no RESULT from wrk: $(tail -5 "$out")"

    eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/R_/')"
    R_wrk_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
}


# ---------------------------------------------------------------- signer

part_signer() {
    local n=${NGINX_SRC}/src cflags

    log "signer micro-benchmark"

    cflags=$(sed -n 's/^CFLAGS = *//p' "$ROOT/build/objs/Makefile" 2>/dev/null \
             | head -1)
    cflags=${cflags:--O -g}

    [ -f "$ROOT/t/unit/ngx_stubs.c" ] || die "t/unit/ngx_stubs.c is missing"

    # compiled like the module (same CFLAGS), from the module's own file
    cc $cflags -I "$n/core" -I "$n/event" -I "$n/event/modules" \
        -I "$n/os/unix" -I "$ROOT/build/objs" -I "$ROOT/ngx_lfv_module" \
        -o "$OUT/signer_bench" "$BENCH/signer_bench.c" \
        "$ROOT/ngx_lfv_module/ngx_http_lfv_sigv4.c" \
        "$ROOT/t/unit/ngx_stubs.c" -lcrypto \
        || die "signer_bench does not build"

    timeout 300 "${PIN_PROXY[@]}" "$OUT/signer_bench" -n "$BENCH_SIGNER_N" \
        -r "$BENCH_SIGNER_R" > "$OUT/signer.txt" \
        || die "signer_bench failed"

    # real STS session tokens are often longer than the simulator's
    timeout 300 "${PIN_PROXY[@]}" "$OUT/signer_bench" -n "$BENCH_SIGNER_N" \
        -r "$BENCH_SIGNER_R" -c session_token -t 1100 \
        | sed 's/session_token/session_token_1100/' >> "$OUT/signer.txt" \
        || die "signer_bench failed"

    rm -f "$OUT/signer_bench"
}


# ------------------------------------------------------------ throughput

part_throughput() {
    local conns round cfg port pid workers c0 c1 s0 s1 n=0 secs
    local -A PORT WORKERS

    log "throughput: configurations $CONFIGS, conns $BENCH_CONNS," \
        "$BENCH_ROUNDS rounds of ${BENCH_DURATION}s"

    start_imds imds --ttl 3600
    local imds_port=$IMDS_PORT

    for cfg in $CONFIGS; do
        write_proxy "$cfg" "$BENCH_WORKERS" "$imds_port"
        start_nginx "$cfg" "${PIN_PROXY[@]}"
        PORT[$cfg]=$(cat "$WORK/$cfg/port")
        WORKERS[$cfg]=$(workers_of "$NGINX_PID" | tr '\n' ' ')
        prime "${PORT[$cfg]}"
    done

    for cfg in $CONFIGS; do
        run_wrk "${PORT[$cfg]}" 32 "$BENCH_WARMUP" "$OUT/warmup-$cfg.txt"
    done

    local fetch0
    fetch0=$(imds_counter "$imds_port" total)

    printf 'run\tconns\tconfig\tround\trps\tp50_us\tp90_us\tp99_us\tmax_us\trequests\terrors\tproxy_cpu\tstub_cpu\twrk_cpu\tother_cpu\tproxy_us_per_req\n' \
        > "$OUT/runs.tsv"

    for conns in $BENCH_CONNS; do
        for round in $(seq "$BENCH_ROUNDS"); do
            for cfg in $CONFIGS; do
                n=$((n + 1))
                port=${PORT[$cfg]}
                workers=${WORKERS[$cfg]}

                local stubw b0 b1
                stubw=$(workers_of "$STUB_PID")
                c0=$(cpu_ns $workers)
                s0=$(cpu_ns $stubw)
                b0=$(busy_ticks)

                run_wrk "$port" "$conns" "$BENCH_DURATION" \
                    "$OUT/wrk-c$conns-$cfg-r$round.txt"

                c1=$(cpu_ns $workers)
                s1=$(cpu_ns $stubw)
                b1=$(busy_ticks)

                # CPU in % of one CPU over the run; "other": everything
                # else the machine ran meanwhile (the noise)
                awk -v n="$n" -v conns="$conns" -v cfg="$cfg" -v rnd="$round" \
                    -v rps="$R_rps" -v p50="$R_p50_us" -v p90="$R_p90_us" \
                    -v p99="$R_p99_us" -v max="$R_max_us" -v req="$R_requests" \
                    -v err=$((R_connect_err + R_read_err + R_write_err \
                              + R_status_err + R_timeout_err)) \
                    -v d="$R_duration_us" -v c=$((c1 - c0)) -v s=$((s1 - s0)) \
                    -v w="$R_wrk_cpu_s" -v b=$((b1 - b0)) -v hz="$CLK_TCK" '
                    BEGIN {
                        secs = d / 1e6
                        pc = 100 * c / 1e9 / secs
                        sc = 100 * s / 1e9 / secs
                        wc = 100 * w / secs
                        oc = 100 * b / hz / secs - pc - sc - wc
                        if (oc < 0) oc = 0
                        printf "%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\n",
                            n, conns, cfg, rnd, rps, p50, p90, p99, max, req,
                            err, pc, sc, wc, oc, req ? c / 1e3 / req : 0
                    }' >> "$OUT/runs.tsv"

                log "c=$conns round $round $cfg: $R_rps req/s," \
                    "p50 ${R_p50_us}us p99 ${R_p99_us}us" \
                    "(proxy cpu $(tail -1 "$OUT/runs.tsv" | cut -f12)%," \
                    "$(tail -1 "$OUT/runs.tsv" | cut -f16) us/request;" \
                    "other load $(tail -1 "$OUT/runs.tsv" | cut -f15)%)"
            done
        done
    done

    {
        echo "imds_fetches_during_runs=$(( $(imds_counter "$imds_port" total) - fetch0 ))"
        echo "imds_credentials_total=$(imds_counter "$imds_port" credentials)"
        for cfg in $CONFIGS; do
            echo "error_log_alerts_$cfg=$(grep -cE '\[(alert|crit|emerg|error)\]' "$WORK/$cfg/error.log" || true)"
        done
    } > "$OUT/throughput.txt"

    for cfg in $CONFIGS; do
        stop_pid "$(cat "$WORK/$cfg/master")"
    done
}


# ---------------------------------------------------- credentials waiting

# While the cached IMDS credentials are valid, no request may wait on the
# metadata service.  Load runs while the simulator rotates the keys every
# few seconds, so that the refresher fetches during the load.  Evidence:
# uprobes on the module's wait handler (exact count, when perf probe
# works), the access log (status, key used, time before the upstream),
# and the simulator's counters.

part_wait() {
    local d port workers fetch0 fetch1 have_probes=0 requests

    log "credentials wait check: ${BENCH_WAIT_DURATION}s of load while IMDS rotates"

    start_imds imds-rot --ttl 12 --rotate 6
    local imds_port=$IMDS_PORT

    write_proxy module-imds-rot "$BENCH_WORKERS" "$imds_port" \
        "    log_format waitcheck '\$msec \$status \$request_time \$upstream_response_time \$lfv_access_key_id \$lfv_decision';" \
        "access_log $WORK/module-imds-rot/access.log waitcheck buffer=256k flush=1s;"
    start_nginx module-imds-rot "${PIN_PROXY[@]}"
    d=$WORK/module-imds-rot
    port=$(cat "$d/port")
    workers=$(workers_of "$NGINX_PID" | tr '\n' ',')
    workers=${workers%,}

    prime "$port"
    run_wrk "$port" 32 "$BENCH_WARMUP" "$OUT/warmup-wait.txt"

    if command -v perf >/dev/null; then
        if ! [ -e /sys/kernel/tracing/uprobe_events ] \
           && ! [ -e /sys/kernel/debug/tracing/uprobe_events ]
        then
            mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
        fi

        if perf probe -q -x "$MODULE" ngx_http_lfv_wait_handler 2>/dev/null \
           && perf probe -q -x "$MODULE" ngx_http_lfv_continue 2>/dev/null
        then
            PROBES=1
            have_probes=1
        else
            perf probe -q -d 'probe_ngx_http_lfv_module:*' 2>/dev/null || true
        fi
    fi

    # the warm-up's lines leave the access log buffer (flush=1s) first
    sleep 1.5

    local marks
    marks=$(wc -c < "$d/access.log")
    local errmark
    errmark=$(wc -c < "$d/error.log")
    local perf_pid=""
    if [ $have_probes = 1 ]; then
        perf stat -x, -o "$OUT/wait-probes.csv" \
            -e probe_ngx_http_lfv_module:ngx_http_lfv_wait_handler \
            -e probe_ngx_http_lfv_module:ngx_http_lfv_continue \
            -p "$workers" -- sleep $((BENCH_WAIT_DURATION + 4)) \
            >/dev/null 2>&1 &
        perf_pid=$!
        STARTED+=("$perf_pid")
        sleep 0.5
    fi

    fetch0=$(imds_counter "$imds_port" credentials)

    run_wrk "$port" 32 "$BENCH_WAIT_DURATION" "$OUT/wrk-wait.txt"
    requests=$R_requests

    fetch1=$(imds_counter "$imds_port" credentials)

    [ -n "$perf_pid" ] && { wait "$perf_pid" || true; forget "$perf_pid"; }

    stop_pid "$(cat "$d/master")"     # flushes the access log

    {
        echo "duration_s=$BENCH_WAIT_DURATION"
        echo "requests=$requests"
        echo "rps=$R_rps"
        echo "client_errors=$((R_connect_err + R_read_err + R_write_err + R_status_err + R_timeout_err))"
        echo "p99_us=$R_p99_us"
        echo "max_us=$R_max_us"
        echo "imds_credential_fetches_during_load=$((fetch1 - fetch0))"
        echo "refreshes_logged_during_load=$(tail -c +$((errmark + 1)) "$d/error.log" | grep -c 'credentials refreshed' || true)"

        if [ $have_probes = 1 ]; then
            awk -F, '/wait_handler/ { print "uprobe_wait_handler_calls=" $1 }
                     /lfv_continue/ { print "uprobe_continue_calls=" $1 }' \
                "$OUT/wait-probes.csv"
        else
            echo "uprobe_wait_handler_calls=unavailable"
        fi

        tail -c +$((marks + 1)) "$d/access.log" | awk '
            { n++
              status[$2]++
              # 499: in flight when wrk stopped and closed its connections
              if ($2 != 202 && $2 != 499) bad++
              keys[$5] = 1
              if ($4 == "-") { noup++; next }
              gap = $3 - $4
              if (gap > max) max = gap
              if (gap >= 0.040) slow++ }
            END { k = 0; for (x in keys) k++
                  s = ""; for (x in status) s = s " " x ":" status[x]
                  printf "logged_requests=%d\nlogged_statuses=%s\n", n, substr(s, 2)
                  printf "not_202=%d\nno_upstream=%d\n", bad, noup
                  printf "distinct_access_keys=%d\n", k
                  printf "max_time_before_upstream_s=%.3f\n", max
                  printf "requests_40ms_before_upstream=%d\n", slow }'
    } > "$OUT/wait.txt"

    if [ $have_probes = 1 ]; then
        perf probe -q -d 'probe_ngx_http_lfv_module:*' 2>/dev/null || true
        PROBES=0
    fi
}


# ------------------------------------------------------------------ soak

part_soak() {
    local cfg d port pid workers w t0 imds_port errmark fetch0 sampler

    log "soak: $BENCH_SOAK_REQUESTS requests per configuration" \
        "($BENCH_SOAK_CONFIGS), $BENCH_SOAK_WORKERS workers"

    # keys rotate every 30 s: the refresher and the key cache work too
    start_imds imds-soak --ttl 60 --rotate 30
    imds_port=$IMDS_PORT

    : > "$OUT/soak.txt"
    printf 'config\tt_s\tpid\trss_kb\n' > "$OUT/soak-rss.tsv"

    for cfg in $BENCH_SOAK_CONFIGS; do
        write_proxy "soak-$cfg" "$BENCH_SOAK_WORKERS" "$imds_port"
        start_nginx "soak-$cfg"
        d=$WORK/soak-$cfg
        port=$(cat "$d/port")
        pid=$NGINX_PID
        workers=$(workers_of "$pid")

        prime "$port"
        errmark=$(wc -c < "$d/error.log")

        # warm-up: pools, buffers, upstream keepalive, TLS sessions
        run_wrk "$port" 32 10 "$OUT/soak-warmup-$cfg.txt" 50000

        fetch0=$(imds_counter "$imds_port" credentials)
        t0=$SECONDS

        # RSS of every worker every 5 s while the load runs.  wrk's new
        # connections spread over the workers anew, so "before" is taken
        # once the run has settled (BENCH_SOAK_SETTLE s in), "after" is
        # the last sample
        (
            while :; do
                for w in $workers; do
                    printf '%s\t%d\t%s\t%s\n' "$cfg" $((SECONDS - t0)) \
                        "$w" "$(rss_kb "$w" 2>/dev/null)"
                done
                sleep 5
            done
        ) >> "$OUT/soak-rss.tsv" &
        sampler=$!
        STARTED+=("$sampler")

        run_wrk "$port" 32 "$BENCH_SOAK_MAX" "$OUT/soak-$cfg.txt" \
            "$BENCH_SOAK_REQUESTS"

        for w in $workers; do
            printf '%s\t%d\t%s\t%s\n' "$cfg" $((SECONDS - t0)) "$w" \
                "$(rss_kb "$w")" >> "$OUT/soak-rss.tsv"
        done

        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
        forget "$sampler"

        {
            echo "soak_${cfg}_requests=$R_requests"
            echo "soak_${cfg}_seconds=$((SECONDS - t0))"
            echo "soak_${cfg}_rps=$R_rps"
            echo "soak_${cfg}_errors=$((R_connect_err + R_read_err + R_write_err + R_status_err + R_timeout_err))"
            echo "soak_${cfg}_imds_fetches=$(( $(imds_counter "$imds_port" credentials) - fetch0 ))"
            echo "soak_${cfg}_refreshes_logged=$(tail -c +$((errmark + 1)) "$d/error.log" | grep -c 'credentials refreshed' || true)"
            echo "soak_${cfg}_error_log_alerts=$(grep -cE '\[(alert|crit|emerg|error)\]' "$d/error.log" || true)"
            awk -F'\t' -v cfg="$cfg" -v settle="$BENCH_SOAK_SETTLE" '
                $1 == cfg && $4 != "" {
                    if (!($3 in first)) first[$3] = $4
                    if ($2 >= settle && !($3 in before)) before[$3] = $4
                    last[$3] = $4
                    if ($4 > max[$3]) max[$3] = $4
                }
                END {
                    for (w in last) {
                        if (!(w in before)) before[w] = first[w]
                        p = "soak_" cfg "_worker_" w
                        print p "_rss_start_kb=" first[w]
                        print p "_rss_before_kb=" before[w]
                        print p "_rss_after_kb=" last[w]
                        print p "_rss_max_kb=" max[w]
                        print p "_rss_growth_kb=" last[w] - before[w]
                    }
                }' "$OUT/soak-rss.tsv"
        } >> "$OUT/soak.txt"

        log "soak $cfg: $R_requests requests at $R_rps req/s"

        stop_pid "$pid"
    done
}


# ------------------------------------------------------------- callgrind

# Instructions per request of the proxy under callgrind: the same
# configurations, single process (master_process off), a fixed number of
# requests after a warm-up.  Unlike time, instruction counts do not move
# with the other load of a shared machine.  valgrind hides SHA-NI and
# AVX-512 from OpenSSL, so hashing weighs more here than on the CPU.

part_callgrind() {
    local cfg name d port pid n=$BENCH_CG_REQUESTS f

    command -v valgrind >/dev/null && command -v callgrind_control >/dev/null \
        || { log "callgrind: valgrind is missing, skipped"; return 0; }

    log "callgrind: $n requests per configuration"

    start_imds imds-cg --ttl 3600
    local imds_port=$IMDS_PORT

    : > "$OUT/callgrind.txt"

    for cfg in $CONFIGS; do
        name=cg-$cfg
        d=$WORK/$name
        write_proxy "$name" 1 "$imds_port"
        sed -i 's/^master_process on;/master_process off;/' "$d/nginx.conf"
        port=$(cat "$d/port")

        valgrind -q --tool=callgrind --dump-instr=no \
            --callgrind-out-file="$OUT/callgrind-$cfg.out" \
            "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" \
            >>"$d/stdout.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")

        wait_port "$port" 600 || die "$name did not start under valgrind"
        prime "$port"

        run_wrk "$port" 8 120 "$OUT/cg-warmup-$cfg.txt" 500
        callgrind_control -z "$pid" >/dev/null 2>&1
        run_wrk "$port" 8 600 "$OUT/cg-$cfg.txt" "$n"
        callgrind_control -d "$pid" >/dev/null 2>&1

        f=$(ls -t "$OUT/callgrind-$cfg.out".* 2>/dev/null | head -1)
        [ -n "$f" ] || die "callgrind: no dump for $cfg"
        mv "$f" "$OUT/callgrind-$cfg.dump"

        echo "callgrind_${cfg}_requests=$R_requests" >> "$OUT/callgrind.txt"

        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        forget "$pid"
        rm -f "$OUT/callgrind-$cfg.out"*
    done
}


# ------------------------------------------------------------------ perf

# Where the proxy worker's time goes, by shared object and symbol, for
# each configuration at the largest connection count: perf samples the
# worker (cpu-clock) while wrk runs; with the worker's CPU time per
# request the report turns the shares into microseconds per request.

part_perf() {
    local cfg name round port workers c0 c1 conns=${BENCH_CONNS##* }
    local -A PORT

    command -v perf >/dev/null || { log "perf: not installed, skipped"; return 0; }

    log "perf: $BENCH_PERF_ROUNDS rounds of ${BENCH_DURATION}s per configuration"

    start_imds imds-perf --ttl 3600
    local imds_port=$IMDS_PORT

    for cfg in $CONFIGS; do
        name=pf-$cfg
        write_proxy "$name" "$BENCH_WORKERS" "$imds_port"
        start_nginx "$name" "${PIN_PROXY[@]}"
        PORT[$cfg]=$(cat "$WORK/$name/port")
        prime "${PORT[$cfg]}"
        run_wrk "${PORT[$cfg]}" "$conns" "$BENCH_WARMUP" "$OUT/pf-warmup-$cfg.txt"
    done

    printf 'config\tround\trequests\tcpu_ns\n' > "$OUT/perf.tsv"

    for round in $(seq "$BENCH_PERF_ROUNDS"); do
        for cfg in $CONFIGS; do
            workers=$(workers_of "$(cat "$WORK/pf-$cfg/master")")

            perf record -q -e cpu-clock -F 4999 \
                -o "$OUT/perf-$cfg-r$round.data" \
                -p "$(echo $workers | tr ' ' ',')" \
                -- sleep "$BENCH_DURATION" >/dev/null 2>&1 &
            local perf_pid=$!
            STARTED+=("$perf_pid")
            sleep 0.2

            c0=$(cpu_ns $workers)
            run_wrk "${PORT[$cfg]}" "$conns" "$BENCH_DURATION" \
                "$OUT/pf-$cfg-r$round.txt"
            c1=$(cpu_ns $workers)

            wait "$perf_pid" || true
            forget "$perf_pid"

            printf '%s\t%d\t%s\t%d\n' "$cfg" "$round" "$R_requests" \
                $((c1 - c0)) >> "$OUT/perf.tsv"

            perf report -i "$OUT/perf-$cfg-r$round.data" --no-children \
                --sort dso,sym --stdio -q 2>/dev/null \
                | grep '%' > "$OUT/perf-$cfg-r$round.txt" || true
            rm -f "$OUT/perf-$cfg-r$round.data"

            log "perf $cfg round $round: $R_rps req/s"
        done
    done

    for cfg in $CONFIGS; do
        stop_pid "$(cat "$WORK/pf-$cfg/master")"
    done
}


# ----------------------------------------------------------------- store

# StartModel at c=1: a budget decided by the policy zone, and by the
# DynamoDB store (dynalite from make dynalite, on loopback), same run
part_store() {
    local dyn=$ROOT/build/node/node_modules/.bin/dynalite dport cfg port extra

    [ -x "$dyn" ] || die "store: no dynalite; run make dynalite first"

    dport=$(free_port)
    "${PIN_OTHER[@]}" "$dyn" --host 127.0.0.1 --port "$dport" --createTableMs 0 \
        > "$WORK/dynalite.log" 2>&1 &
    STARTED+=("$!")
    wait_port "$dport" 200 || die "store: dynalite did not start"

    curl -sf -o /dev/null "http://127.0.0.1:$dport/" \
        -H 'X-Amz-Target: DynamoDB_20120810.CreateTable' \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Date: 20261202T000000Z' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261202/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' \
        -d '{"TableName":"bench","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]}' \
        || die "store: CreateTable failed"

    : > "$OUT/store.txt"

    for cfg in zone-module-static store-module-static; do
        extra="    lfv_policy_zone teams:1m;
    lfv_policy default budget=1000000000/1d;"

        if [ $cfg = store-module-static ]; then
            extra="$extra
    lfv_policy_store dynamodb table=bench region=us-east-1 endpoint=http://127.0.0.1:$dport;"
        fi

        log "store: $cfg, c=1 for ${BENCH_DURATION}s"

        write_proxy $cfg 1 "" "$extra"
        start_nginx $cfg "${PIN_PROXY[@]}"
        port=$(cat "$WORK/$cfg/port")

        prime "$port"
        run_wrk "$port" 1 "$BENCH_WARMUP" "$OUT/warmup-$cfg.txt"
        run_wrk "$port" 1 "$BENCH_DURATION" "$OUT/wrk-$cfg.txt"

        {
            echo "${cfg%-module-static}_requests=$R_requests"
            echo "${cfg%-module-static}_p50_us=$R_p50_us"
            echo "${cfg%-module-static}_p99_us=$R_p99_us"
            echo "${cfg%-module-static}_errors=$((R_connect_err + R_read_err + R_write_err + R_status_err + R_timeout_err))"
        } >> "$OUT/store.txt"

        stop_pid "$(cat "$WORK/$cfg/master")"
    done
}


# ------------------------------------------------------------------ main

log "results in $OUT (parts: $PARTS)"

if has_part throughput || has_part wait || has_part soak \
   || has_part callgrind || has_part perf || has_part store
then
    make_certs
    start_stub
fi

for p in signer throughput wait perf callgrind soak store; do
    has_part $p && part_$p
done

STEAL1=$(steal_ticks)
TOTAL1=$(total_ticks)

awk -v s=$((STEAL1 - STEAL0)) -v t=$((TOTAL1 - TOTAL0)) \
    'BEGIN { printf "cpu steal during the benchmark: %.1f%%\n", t ? 100 * s / t : 0 }' \
    >> "$OUT/machine.txt"

"$PY" "$BENCH/report.py" "$OUT" | tee "$OUT/results.txt"

ln -sfn "$STAMP" "$BENCH_OUT/latest"
log "results: $OUT/results.txt"
