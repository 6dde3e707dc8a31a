#!/usr/bin/env bash
# AOF benchmark: keel-server against redis-server 7.0.15, one at a time,
# same settings (appendonly yes, aof-use-rdb-preamble as given).
#
#   scripts/bench-aof.sh
#
# Prints, for appendfsync always and everysec, redis-benchmark SET and INCR
# at -c 50 with pipelines 1 and 16 (requests/s, p50 and p99 latency in ms)
# and the fdatasync calls each server made per second and per request
# (counted by `perf stat` on the syscall tracepoint when perf is installed
# and allowed, else not shown); the disk's own fsync rate (one writer, 2 s
# of write+fdatasync); the startup load time of a 1M-key AOF written without
# an RDB preamble; and BGREWRITEAOF wall time. Ratios are keel/redis.
#
# Environment: KEEL_BIN [target/release/keel-server, built here],
# REQUESTS [200000], KEYS [1000000], BENCH_PORTS [27000-27999].
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for t in redis-server redis-cli redis-benchmark python3; do
    command -v "$t" >/dev/null || { echo "bench-aof: $t is not installed" >&2; exit 1; }
done
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-1000000}
if [ -z "${KEEL_BIN:-}" ]; then
    cargo build --release --bin keel-server
    KEEL_BIN="$repo/target/release/keel-server"
fi
BENCH_PORTS=${BENCH_PORTS:-27000-27999}
lo=${BENCH_PORTS%-*}
port=$lo
work=$(mktemp -d /tmp/keel-bench-aof.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start() { # bin dir extra...
    local bin=$1 dir=$2; shift 2
    mkdir -p "$dir"
    "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --daemonize no "$@" >"$dir/log" 2>&1 &
    pid=$!
    until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; do sleep 0.05; done
}
stop() { # also when the server was started in a subshell (no $pid here)
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    [ -n "$pid" ] && { wait "$pid" 2>/dev/null || true; }
    while redis-cli -p "$port" ping 2>/dev/null | grep -q .; do sleep 0.05; done
    pid=""
}

declare -A R
# perf counts fdatasync calls when it may trace syscalls here.
have_perf=0
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync true >/dev/null 2>&1; then
    have_perf=1
fi
bench() { # name fsync
    local name=$1 fsync=$2 bin
    for who in keel redis; do
        if [ $who = keel ]; then bin=$KEEL_BIN; else bin=redis-server; fi
        start "$bin" "$work/$who-$fsync" --appendonly yes --appendfsync "$fsync"
        for p in 1 16; do
            for t in set incr; do
                perfpid=""
                if [ "$have_perf" = 1 ]; then
                    perf stat -x, -e syscalls:sys_enter_fdatasync -p "$pid" -o "$work/perf.out" 2>/dev/null &
                    perfpid=$!
                fi
                t0=$(date +%s.%N)
                line=$(redis-benchmark -p "$port" -c 50 -n "$REQUESTS" -P $p -t $t -r 100000 --csv | tail -1)
                t1=$(date +%s.%N)
                if [ -n "$perfpid" ]; then
                    kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true
                    n=$(grep fdatasync "$work/perf.out" | cut -d, -f1)
                    R[$who,$fsync,$t,$p,fs]=$(python3 -c "import sys; n,t,r=float(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print('%d/s, %.1f req/fsync' % (n/t, r/n) if n else '0/s')" "${n:-0}" "$(echo "$t1 - $t0" | bc)" "$REQUESTS")
                fi
                # "test","rps","avg","min","p50","p95","p99","max"
                R[$who,$fsync,$t,$p,rps]=$(echo "$line" | cut -d, -f2 | tr -d '"')
                R[$who,$fsync,$t,$p,p50]=$(echo "$line" | cut -d, -f5 | tr -d '"')
                R[$who,$fsync,$t,$p,p99]=$(echo "$line" | cut -d, -f7 | tr -d '"')
            done
        done
        stop
    done
}
bench always always
bench everysec everysec

disk=$(python3 - "$work" <<'PY'
import os, sys, time
p = os.path.join(sys.argv[1], "fsync.probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
n, t0 = 0, time.time()
while time.time() - t0 < 2:
    os.write(fd, b"x" * 64)
    os.fdatasync(fd)
    n += 1
print(int(n / (time.time() - t0)))
PY
)

ratio() { python3 -c "import sys; a,b=float(sys.argv[1] or 0),float(sys.argv[2] or 0); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }
printf "%-34s %12s %12s %9s\n" metric keel redis keel/redis
for fsync in always everysec; do
    for p in 1 16; do
        for t in set incr; do
            k=${R[keel,$fsync,$t,$p,rps]}; r=${R[redis,$fsync,$t,$p,rps]}
            printf "%-34s %12s %12s %9s\n" "$t rps $fsync P$p" "$k" "$r" "$(ratio "$k" "$r")"
            printf "%-34s %12s %12s\n" "  p50/p99 ms" "${R[keel,$fsync,$t,$p,p50]}/${R[keel,$fsync,$t,$p,p99]}" "${R[redis,$fsync,$t,$p,p50]}/${R[redis,$fsync,$t,$p,p99]}"
            if [ "$have_perf" = 1 ] && [ "$fsync" = always ]; then
                printf "%-34s %24s  |  %s\n" "  fdatasync keel | redis" "${R[keel,$fsync,$t,$p,fs]}" "${R[redis,$fsync,$t,$p,fs]}"
            fi
        done
    done
done
printf "%-34s %12s\n" "disk fdatasync/s (one writer)" "$disk"
stop
# Load and rewrite times: their own script (each server alone on the port,
# the dataset count checked after the load).
KEEL_BIN="$KEEL_BIN" KEYS="$KEYS" PORT="$port" bash "$repo/scripts/bench-aof-load.sh" | tail -n +2
