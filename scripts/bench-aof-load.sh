#!/usr/bin/env bash
# AOF startup load and BGREWRITEAOF time (issue 6): a 1M-key AOF without
# RDB preamble written by redis-server 7.0.15, loaded by keel-server and by
# redis-server in turn; then each rewrites it. Prints seconds and keel/redis.
#
#   scripts/bench-aof-load.sh        (KEEL_BIN, KEYS [1000000], PORT [27990])
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
KEYS=${KEYS:-1000000}
PORT=${PORT:-27990}
if [ -z "${KEEL_BIN:-}" ]; then
    (cd "$repo" && cargo build --release --bin keel-server)
    KEEL_BIN="$repo/target/release/keel-server"
fi
w=$(mktemp -d /tmp/keel-bench-aof-load.XXXXXX)
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$w"' EXIT
C() { redis-cli -p "$PORT" "$@"; }
field() { C info persistence | tr -d '\r' | sed -n "s/^$1://p"; }
up() { until [ "$(C ping 2>/dev/null)" = PONG ]; do sleep 0.02; done; }
down() { C shutdown nosave >/dev/null 2>&1 || true; while C ping 2>/dev/null | grep -q .; do sleep 0.05; done; }
# aof_rewrites counts a rewrite when it forks: wait for the count, then the end.
rewritten() { until [ "$(field aof_rewrites)" = "$1" ]; do sleep 0.02; done
              until [ "$(field aof_rewrite_in_progress)" = 0 ]; do sleep 0.02; done; }

mkdir -p "$w/build"
redis-server --port "$PORT" --dir "$w/build" --appendonly yes --aof-use-rdb-preamble no \
    --enable-debug-command yes --save "" >/dev/null 2>&1 &
up
C debug populate "$KEYS" >/dev/null
C bgrewriteaof >/dev/null
rewritten 1
down
declare -A L RW
for who in keel redis; do
    [ "$who" = keel ] && bin=$KEEL_BIN || bin=redis-server
    mkdir -p "$w/$who"
    cp -r "$w/build/appendonlydir" "$w/$who/"
    t0=$(date +%s.%N)
    "$bin" --port "$PORT" --dir "$w/$who" --appendonly yes --aof-use-rdb-preamble no --save "" >/dev/null 2>&1 &
    up
    t1=$(date +%s.%N)
    n=$(C dbsize)
    [ "$n" = "$KEYS" ] || { echo "$who loaded $n keys, expected $KEYS" >&2; exit 1; }
    L[$who]=$(echo "$t1 - $t0" | bc)
    t0=$(date +%s.%N)
    C bgrewriteaof >/dev/null
    rewritten 1
    t1=$(date +%s.%N)
    RW[$who]=$(echo "$t1 - $t0" | bc)
    down
done
ratio() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
printf "%-34s %10s %10s %9s\n" metric keel redis keel/redis
printf "%-34s %10.3f %10.3f %9s\n" "AOF load, $KEYS keys (s)" "${L[keel]}" "${L[redis]}" "$(ratio "${L[keel]}" "${L[redis]}")"
printf "%-34s %10.3f %10.3f %9s\n" "BGREWRITEAOF (s)" "${RW[keel]}" "${RW[redis]}" "$(ratio "${RW[keel]}" "${RW[redis]}")"
