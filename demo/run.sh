#!/usr/bin/env bash
# make demo: build the module, then run, on 127.0.0.1 only,
#
#   the Lookout for Vision simulator   t/sim/lfv_sim.py  (HTTPS, checks SigV4)
#   the EC2 metadata simulator         t/sim/imds_sim.py (rotating credentials)
#   Debian's nginx with the module     127.0.0.1:$DEMO_PORT (default 8080)
#
# and print commands to paste (curl, boto3, AWS CLI). Ctrl-C stops all of it.
#
#   demo/run.sh              run until Ctrl-C
#   demo/run.sh --selftest   start, run every printed command, check the
#                            answers, stop; exit 0 if all passed, else 1
#                            (same as DEMO_SELFTEST=1)
#
# Environment:
#   DEMO_PORT=8080           nginx port
#   DEMO_DIR=build/demo      everything the demo writes (prefix, logs, pids)
#   DEMO_ROTATE=180          the metadata service issues new keys every S s
#   DEMO_TTL=600             lifetime of each key set, seconds
#   DEMO_INSTALL=1           0: never apt-get install (awscli, curl)
#   DEMO_AWS=                the aws CLI to use (default: one that knows
#                            lookoutvision, else Debian's awscli); none: skip it
#   DEMO_NGINX=/usr/sbin/nginx

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${DEMO_PORT:-8080}
DIR=${DEMO_DIR:-$REPO/build/demo}
ROTATE=${DEMO_ROTATE:-180}
TTL=${DEMO_TTL:-600}
INSTALL=${DEMO_INSTALL:-1}
NGINX=${DEMO_NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3
MODULE=${LFV_MODULE:-$REPO/build/objs/ngx_http_lfv_module.so}
SELFTEST=0
[ "${DEMO_SELFTEST:-0}" = 1 ] && SELFTEST=1

for arg in "$@"; do
    case $arg in
        --selftest) SELFTEST=1 ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

case $PORT in
    ''|*[!0-9]*) echo "demo: DEMO_PORT must be a number, not '$PORT'" >&2; exit 2 ;;
esac

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

say()  { printf '%s\n' "demo: $*"; }
die()  { printf '%s\n' "demo: $*" >&2; exit 1; }

# ------------------------------------------------------------ processes

# the command line of a live process, or nothing
cmdline() {
    local pid=$1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null
}

alive() {
    local pid=$1 state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] && [ "$state" != X ]
}

# true if the pid in FILE is alive and its command line mentions $DIR
# (so a recycled pid of somebody else's process is never signalled)
ours() {
    local file=$1 pid
    [ -s "$file" ] || return 1
    pid=$(tr -dc 0-9 < "$file")
    alive "$pid" || return 1
    [[ $(cmdline "$pid") == *"$2"* ]]
}

# wait (bounded) until none of the pids is alive
wait_dead() {
    local tenths=$1; shift
    local i pid left
    for ((i = 0; i < tenths; i++)); do
        left=0
        for pid in "$@"; do alive "$pid" && left=1; done
        [ $left = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# stop one process: SIG, then TERM, then KILL, each bounded
stop_pid() {
    local pid=$1 sig=${2:-TERM}
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_dead 100 "$pid" && return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_dead 30 "$pid" && return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_dead 20 "$pid" || true
}

# the worker processes of an nginx master (to clean up after a KILL)
children() {
    ps -o pid= --ppid "$1" 2>/dev/null || true
}

stop_nginx() {
    local pid kids
    ours "$DIR/nginx.pid" "$DIR/" || { rm -f "$DIR/nginx.pid"; return 0; }
    pid=$(tr -dc 0-9 < "$DIR/nginx.pid")
    kids=$(children "$pid")
    stop_pid "$pid" QUIT
    for k in $kids; do [[ $(cmdline "$k") == nginx* ]] && stop_pid "$k" KILL; done
    rm -f "$DIR/nginx.pid"
}

stop_sim() {
    local name=$1 pid
    if ours "$DIR/$name.pid" "$DIR/$name"; then
        pid=$(tr -dc 0-9 < "$DIR/$name.pid")
        stop_pid "$pid" TERM
    fi
    rm -f "$DIR/$name.pid"
}

STOPPED=0
stop_all() {
    [ $STOPPED = 1 ] && return 0
    STOPPED=1
    stop_nginx
    stop_sim lfv
    stop_sim imds
    if [ "$(tr -dc 0-9 < "$DIR/run.pid" 2>/dev/null)" = "$$" ]; then
        rm -f "$DIR/run.pid"
    fi
}

# a demo left over from an earlier run: its script (still running in
# another terminal, or killed with -9) and whatever it had started
stop_stale() {
    local pid
    if ours "$DIR/run.pid" run.sh; then
        pid=$(tr -dc 0-9 < "$DIR/run.pid")
        if [ "$pid" != $$ ]; then
            say "stopping the demo already running from $DIR (pid $pid)"
            stop_pid "$pid" TERM
        fi
    fi
    if ours "$DIR/nginx.pid" "$DIR/"; then say "stopping a stale nginx"; fi
    stop_nginx
    for s in lfv imds; do
        if ours "$DIR/$s.pid" "$DIR/$s"; then say "stopping a stale $s simulator"; fi
        stop_sim "$s"
    done
}

port_free() {
    "$PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(('127.0.0.1', int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# ------------------------------------------------------------ packages

apt_install() {
    [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] || return 1
    say "installing $* (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=120 "$@" >"$DIR/apt.log" 2>&1 && return 0
    timeout 300 apt-get update -qq >>"$DIR/apt.log" 2>&1 || true
    timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=120 "$@" >>"$DIR/apt.log" 2>&1
}

# an aws CLI that still knows Lookout for Vision: Debian's awscli (2.9) does;
# recent ones (pip, pyenv) dropped the service
aws_works() {
    [ -x "$1" ] && timeout 60 "$1" lookoutvision start-model \
        --generate-cli-skeleton >/dev/null 2>&1
}

find_aws() {
    local c
    case ${DEMO_AWS:-} in
        none) return 1 ;;
        ?*) aws_works "$DEMO_AWS" && { printf '%s\n' "$DEMO_AWS"; return 0; }
            return 1 ;;
    esac
    for c in "$(command -v aws 2>/dev/null || true)" /usr/bin/aws; do
        [ -n "$c" ] && aws_works "$c" && { printf '%s\n' "$c"; return 0; }
    done
    return 1
}

# ------------------------------------------------------------ build

say "building the module (make)"
make -C "$REPO" --no-print-directory all || die "build failed"
[ -f "$MODULE" ] || die "no module at $MODULE after make"
[ -x "$NGINX" ] || die "no nginx at $NGINX (apt-get install nginx)"
[ -x "$PY" ] || die "no $PY (apt-get install python3)"
"$PY" -c 'import boto3, botocore, cryptography' 2>/dev/null \
    || die "$PY lacks boto3/cryptography (apt-get install python3-boto3 python3-cryptography)"
if ! command -v curl >/dev/null; then
    apt_install curl || die "curl is missing (apt-get install curl)"
fi

# ------------------------------------------------------------ start

stop_stale
echo $$ > "$DIR/run.pid"

trap 'stop_all' EXIT
trap 'echo; say "stopping"; stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM HUP

port_free "$PORT" || {
    ss -ltnp "sport = :$PORT" 2>/dev/null | sed 's/^/    /' >&2 || true
    die "127.0.0.1:$PORT is in use by another program; choose another: DEMO_PORT=8081 make demo"
}

AWS=
if AWS=$(find_aws); then
    :
elif [ -z "${DEMO_AWS:-}" ] && apt_install awscli && AWS=$(find_aws); then
    :
else
    AWS=
fi

rm -rf "$DIR/lfv" "$DIR/imds" "$DIR/logs" "$DIR/tmp"
mkdir -p "$DIR/lfv" "$DIR/imds" "$DIR/logs" "$DIR/tmp"
echo '{}' > "$DIR/keys.json"

# the simulators: one keys file, so lfv_sim accepts exactly what imds_sim issued
"$PY" "$REPO/t/sim/imds_sim.py" --dir "$DIR/imds" --port 0 --keys "$DIR/keys.json" \
    --ttl "$TTL" --rotate "$ROTATE" > "$DIR/logs/imds.log" 2>&1 &
echo $! > "$DIR/imds.pid"
"$PY" "$REPO/t/sim/lfv_sim.py" --dir "$DIR/lfv" --port 0 --keys "$DIR/keys.json" \
    --region us-east-1 --validate > "$DIR/logs/lfv.log" 2>&1 &
echo $! > "$DIR/lfv.pid"

wait_ready() {
    local name=$1 i
    for ((i = 0; i < 200; i++)); do
        [ -s "$DIR/$name/ready" ] && { tr -dc 0-9 < "$DIR/$name/ready"; return 0; }
        ours "$DIR/$name.pid" "$DIR/$name" || break
        sleep 0.1
    done
    sed 's/^/    /' "$DIR/logs/$name.log" >&2
    die "the $name simulator did not start (log: $DIR/logs/$name.log)"
}

IMDS_PORT=$(wait_ready imds)
LFV_PORT=$(wait_ready lfv)

# ------------------------------------------------------------ nginx

USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE='user root;'

cat > "$DIR/nginx.conf" <<EOF
# written by demo/run.sh; every path is inside $DIR

load_module $MODULE;

$USER_LINE
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log notice;

events {
    worker_connections 256;
}

http {
    client_body_temp_path $DIR/tmp/client_body;
    proxy_temp_path       $DIR/tmp/proxy;
    fastcgi_temp_path     $DIR/tmp/fastcgi;
    uwsgi_temp_path       $DIR/tmp/uwsgi;
    scgi_temp_path        $DIR/tmp/scgi;

    # the audit trail: one JSON line per request, every \$lfv_* variable
    log_format lfv_audit escape=json '{"time":"\$time_iso8601",'
        '"client":"\$remote_addr","team":"\$lfv_team",'
        '"project":"\$lfv_project","model_version":"\$lfv_model_version",'
        '"min_units":"\$lfv_min_units","max_units":"\$lfv_max_units",'
        '"client_token":"\$lfv_client_token",'
        '"decision":"\$lfv_decision","reason":"\$lfv_reason",'
        '"key_id":"\$lfv_access_key_id",'
        '"credential_source":"\$lfv_credential_source",'
        '"status":"\$status","upstream_status":"\$upstream_status",'
        '"aws_request_id":"\$upstream_http_x_amzn_requestid",'
        '"request_time":"\$request_time","user_agent":"\$http_user_agent"}';

    access_log $DIR/logs/access.log;

    # credentials from the (simulated) EC2 instance metadata service
    lfv_credentials imds endpoint=http://127.0.0.1:$IMDS_PORT;

    # who may start what: the team comes from the X-Team header
    lfv_policy_zone lfv_teams:1m;
    lfv_policy vision-team projects=demo-.* max_min_units=4 max_max_units=8
               rate=60r/m burst=20 nodelay budget=200/1h;
    # requests without X-Team (boto3, the AWS CLI) get this one: for the
    # demo only; in production leave it out and every team is named
    lfv_policy default projects=demo-.* max_min_units=1 max_max_units=2
               rate=30r/m burst=10 nodelay budget=50/1h;

    # named after the service host: nginx sends it as Host and TLS SNI
    upstream lookoutvision.us-east-1.amazonaws.com {
        server 127.0.0.1:$LFV_PORT;    # the simulator
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$PORT;

        location = /lfv-status {
            lfv_status;
        }

        location / {
            access_log $DIR/logs/audit.log lfv_audit;

            lfv on;
            lfv_region us-east-1;
            lfv_team \$http_x_team;

            include $REPO/ngx_lfv_module/lfv_proxy_params;
            proxy_ssl_trusted_certificate $DIR/lfv/ca.pem;
        }
    }
}
EOF

NGX=("$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log")

"${NGX[@]}" -t -q 2>"$DIR/logs/nginx-t.log" || {
    sed 's/^/    /' "$DIR/logs/nginx-t.log" >&2
    die "nginx -t failed for $DIR/nginx.conf"
}
"${NGX[@]}" 2>"$DIR/logs/nginx-start.log" || {
    sed 's/^/    /' "$DIR/logs/nginx-start.log" >&2
    tail -5 "$DIR/logs/error.log" 2>/dev/null | sed 's/^/    /' >&2
    die "nginx did not start"
}

BASE=http://127.0.0.1:$PORT
ready=0
for ((i = 0; i < 150; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/lfv-status" || true)
    [ "$code" = 200 ] && { ready=1; break; }
    sleep 0.1
done
if [ $ready != 1 ]; then
    tail -10 "$DIR/logs/error.log" | sed 's/^/    /' >&2
    die "nginx is up but /lfv-status did not turn ready (200) within 15 s"
fi

# ------------------------------------------------------------ the commands

START=/2020-11-20/projects/demo-project/models/1/start

CMD_CURL="curl -sS -i -X POST $BASE$START -H 'X-Team: vision-team' -H 'Content-Type: application/json' -d '{\"MinInferenceUnits\": 1, \"MaxInferenceUnits\": 2}'"

CMD_BOTO3="/usr/bin/python3 -c 'import boto3; from botocore import UNSIGNED; from botocore.config import Config; c = boto3.client(\"lookoutvision\", region_name=\"us-east-1\", endpoint_url=\"$BASE\", config=Config(signature_version=UNSIGNED)); print(c.start_model(ProjectName=\"demo-project\", ModelVersion=\"1\", MinInferenceUnits=1))'"

AWS_NAME=aws
if [ -n "$AWS" ] && [ "$(command -v aws 2>/dev/null || true)" != "$AWS" ]; then
    AWS_NAME=$AWS    # the first aws on PATH does not know lookoutvision
fi
CMD_AWS="$AWS_NAME lookoutvision start-model --endpoint-url $BASE --no-sign-request --region us-east-1 --project-name demo-project --model-version 1 --min-inference-units 1"

CMD_DENIED="curl -sS -i -X POST $BASE/2020-11-20/projects/other-project/models/1/start -H 'X-Team: vision-team' -H 'Content-Type: application/json' -d '{\"MinInferenceUnits\": 1}'"

CMD_STATUS="curl -sS $BASE/lfv-status"
CMD_PROM="curl -sS '$BASE/lfv-status?format=prometheus'"
CMD_AUDIT="tail -f $DIR/logs/audit.log"

cat <<EOF

================================================================ LFV demo
nginx with ngx_http_lfv_module on $BASE
  -> signs with credentials from the metadata simulator on 127.0.0.1:$IMDS_PORT
     (new keys every ${ROTATE}s, each valid ${TTL}s)
  -> proxies over verified TLS to the Lookout for Vision simulator
     on 127.0.0.1:$LFV_PORT (it checks every signature with botocore)

Policies ($DIR/nginx.conf):
  vision-team  (X-Team: vision-team)  projects demo-.*, MinInferenceUnits <= 4,
               MaxInferenceUnits <= 8, 60 starts/min, 200 units/hour
  default      (no X-Team header: boto3, the AWS CLI)  projects demo-.*,
               1 unit, at most 2; a demo convenience: in production name
               every team and leave the default policy out

1. curl, as vision-team (202 STARTING_HOSTING):

   $CMD_CURL

2. boto3, unsigned, to the proxy (prints {'Status': 'STARTING_HOSTING', ...}):

   $CMD_BOTO3

3. AWS CLI:

   $CMD_AWS
EOF
if [ -z "$AWS" ]; then
    cat <<EOF

   (no aws CLI here that knows Lookout for Vision: the one from pip or
    pyenv is too new, the service was dropped. Debian's has it:
    apt-get install awscli, as root; this demo installs it when run as
    root.)
EOF
elif [ "$AWS_NAME" != aws ]; then
    cat <<EOF

   (the first aws on PATH, $(command -v aws), no longer knows Lookout for
    Vision; this is Debian's)
EOF
fi
cat <<EOF

4. refused by policy: vision-team may not start other-project
   (403 AccessDeniedException, nothing reaches AWS):

   $CMD_DENIED

5. the status page (credentials, per-team counters), JSON or Prometheus:

   $CMD_STATUS
   $CMD_PROM

6. the audit log (one JSON line per request):

   $CMD_AUDIT

   nginx error log: $DIR/logs/error.log
   what reached "AWS": $DIR/lfv/journal.jsonl
================================================================
EOF

# ------------------------------------------------------------ selftest

if [ $SELFTEST = 1 ]; then
    export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
    unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
    pass=0 fail=0 skip=0
    ok()   { pass=$((pass + 1)); echo "ok - $1"; }
    nok()  { fail=$((fail + 1)); echo "not ok - $1"; shift; printf '%s\n' "$@" | sed 's/^/    # /'; }
    run()  { timeout 60 bash -c "$1" 2>&1; }
    # match against $out without pipes (a grep -q that quits early would
    # SIGPIPE the writer, and pipefail would call that a failure)
    has()  { grep -q "$@" <<<"$out"; }
    first() { grep -q "$1" <<<"${out%%$'\n'*}"; }

    echo
    echo "selftest: running the commands above"

    out=$(run "$CMD_CURL") || true
    if first '^HTTP/1\.1 202' \
        && has '"Status": *"STARTING_HOSTING"'; then
        ok "1. curl as vision-team: 202 STARTING_HOSTING"
    else
        nok "1. curl as vision-team: 202 STARTING_HOSTING" "$out"
    fi

    out=$(run "$CMD_BOTO3") || true
    if has "'Status': 'STARTING_HOSTING'"; then
        ok "2. boto3: STARTING_HOSTING"
    else
        nok "2. boto3: STARTING_HOSTING" "$out"
    fi

    if [ -n "$AWS" ]; then
        out=$(run "$CMD_AWS") || true
        if has '"Status": *"STARTING_HOSTING"'; then
            ok "3. aws CLI: STARTING_HOSTING"
        else
            nok "3. aws CLI: STARTING_HOSTING" "$out"
        fi
    else
        skip=$((skip + 1))
        echo "ok - 3. aws CLI # SKIP no aws CLI that knows lookoutvision"
    fi

    out=$(run "$CMD_DENIED") || true
    if first '^HTTP/1\.1 403' \
        && has -i '^x-amzn-ErrorType: AccessDeniedException' \
        && has 'may not start models of project'; then
        ok "4. other-project refused: 403 AccessDeniedException"
    else
        nok "4. other-project refused: 403 AccessDeniedException" "$out"
    fi

    want_default=2
    [ -n "$AWS" ] || want_default=1
    out=$(run "$CMD_STATUS" | "$PY" -c '
import json, sys
want_default = int(sys.argv[1])
s = json.load(sys.stdin)
assert s["ready"] is True, "not ready"
assert s["credentials"]["source"] == "imds", s["credentials"]
t = s["teams"]
assert t["vision-team"]["forwarded"] == 1, t
assert t["vision-team"]["rejected"] == {"project_denied": 1}, t
# requests under the default policy: every team other than vision-team
assert sum(v["forwarded"] for k, v in t.items() if k != "vision-team") == want_default, t
print("ok")' "$want_default" 2>&1) || true
    if [ "$out" = ok ]; then
        ok "5. status page: ready, imds credentials, counters per team"
    else
        nok "5. status page: ready, imds credentials, counters per team" "$out"
    fi

    out=$(run "$CMD_PROM") || true
    if has '^lfv_ready 1$' \
        && has '^lfv_forwarded_total{team="vision-team"} 1$'; then
        ok "5. status page: Prometheus text"
    else
        nok "5. status page: Prometheus text" "$out"
    fi

    out=$("$PY" - "$DIR/logs/audit.log" "$DIR/lfv/journal.jsonl" "$want_default" <<'EOF' 2>&1
import json, sys
audit = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
journal = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
want = 1 + int(sys.argv[3])
fwd = [a for a in audit if a["decision"] == "forwarded"]
rej = [a for a in audit if a["decision"] == "rejected"]
assert len(fwd) == want, audit
assert all(a["status"] == "202" and a["upstream_status"] == "202"
           and len(a["aws_request_id"]) == 36 and a["credential_source"] == "imds"
           and a["key_id"].startswith("ASIA") and a["project"] == "demo-project"
           for a in fwd), fwd
assert [(a["team"], a["project"], a["reason"], a["status"]) for a in rej] == \
    [("vision-team", "other-project", "project_denied", "403")], rej
assert len(journal) == want, journal
assert all(j["sig_ok"] and j["status"] == 202 for j in journal), journal
print("ok")
EOF
    ) || true
    if [ "$out" = ok ]; then
        ok "6. audit log: a JSON line per request; every forwarded one signed (simulator journal)"
    else
        nok "6. audit log: a JSON line per request; every forwarded one signed (simulator journal)" "$out"
    fi

    echo "selftest: $pass passed, $fail failed, $skip skipped"
    stop_all
    [ $fail = 0 ] && exit 0
    echo "logs: $DIR/logs" >&2
    exit 1
fi

# ------------------------------------------------------------ wait for Ctrl-C

echo "Running. Ctrl-C stops nginx and both simulators."
while true; do
    for what in nginx lfv imds; do
        if [ $what = nginx ]; then
            ours "$DIR/nginx.pid" "$DIR/" && continue
        else
            ours "$DIR/$what.pid" "$DIR/$what" && continue
        fi
        say "$what exited unexpectedly; stopping (logs: $DIR/logs)"
        exit 1
    done
    sleep 1
done
