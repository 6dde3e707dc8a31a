#!/usr/bin/env bash
# keel-check-rdb against redis-check-rdb 7.0.15, side by side, on the same
# RDB file (a benchmark, not a test). Target: keel-check-rdb at least 2x
# faster on a 1 GB RDB.
#
#   scripts/bench-check-rdb.sh            # 1 GB
#   SIZE_MB=200 scripts/bench-check-rdb.sh
#
# Environment (defaults in brackets):
#   SIZE_MB     approximate RDB size in MB [1024]
#   VALUE_SIZE  bytes per string value made by DEBUG POPULATE [100]
#   COLL        keys of each collection kind (hash, list, set, zset; 20
#               elements each, made by a server-side Lua loop) [50000]
#   RUNS        timed runs of each tool (the best is reported) [3]
#   BENCH_PORT  port of the redis-server that builds the file [25900]
#   KEEP        keep the work directory (the RDB) when set
#   CHECK_BIN   keel-check-rdb binary [target/release/keel-check-rdb, built here]
#
# The file is made by redis-server 7.0.15 with `rdbcompression no` (DEBUG
# POPULATE values are mostly NUL bytes, which LZF would shrink to nothing),
# so SIZE_MB is the real amount of data both tools decode and checksum.
# keel-check-rdb runs with its defaults (duplicate-key check on), which
# is more work than redis-check-rdb does. KEEL_CHECK_RDB_TIMING=1 makes
# keel-check-rdb print its phase times (walk, helper thread) on stderr.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for tool in redis-server redis-cli redis-check-rdb; do
    command -v "$tool" >/dev/null || { echo "bench-check-rdb: $tool is not installed" >&2; exit 1; }
done
SIZE_MB=${SIZE_MB:-1024}
VALUE_SIZE=${VALUE_SIZE:-100}
COLL=${COLL:-50000}
RUNS=${RUNS:-3}
PORT=${BENCH_PORT:-25900}
CHECK_BIN=${CHECK_BIN:-}
if [ -z "$CHECK_BIN" ]; then
    cargo build --release --bin keel-check-rdb >&2
    CHECK_BIN=target/release/keel-check-rdb
fi

work=$(mktemp -d /tmp/bench-check-rdb.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

cli() { redis-cli -p "$PORT" "$@"; }

# Each string key costs about VALUE_SIZE + 20 bytes in the file.
strings=$(( SIZE_MB * 1024 * 1024 / (VALUE_SIZE + 20) ))
echo "building the RDB: $strings strings of $VALUE_SIZE bytes + $COLL each of hashes/lists/sets/zsets" >&2
redis-server --port "$PORT" --dir "$work" --dbfilename dump.rdb --save '' \
    --rdbcompression no --enable-debug-command yes --daemonize no --logfile "$work/redis.log" &
pid=$!
for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
reply=$(cli debug populate "$strings" key "$VALUE_SIZE")
[ "$reply" = OK ] || { echo "bench-check-rdb: DEBUG POPULATE: $reply" >&2; exit 1; }
cli eval "
for i = 1, tonumber(ARGV[1]) do
  local h, l, s, z = {}, {}, {}, {}
  for j = 1, 20 do
    h[#h+1] = 'field'..j; h[#h+1] = 'value'..(i*j)
    l[#l+1] = 'element-'..j..'-'..i
    s[#s+1] = (i*100+j)
    z[#z+1] = j*1.5; z[#z+1] = 'member'..j
  end
  redis.call('hset', 'hash:'..i, unpack(h))
  redis.call('rpush', 'list:'..i, unpack(l))
  redis.call('sadd', 'set:'..i, unpack(s))
  redis.call('zadd', 'zset:'..i, unpack(z))
  if i % 10 == 0 then redis.call('pexpire', 'hash:'..i, 86400000) end
end" 0 "$COLL" >/dev/null
cli save >/dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
rdb="$work/dump.rdb"
size=$(stat -c %s "$rdb")
echo "RDB: $rdb, $size bytes ($(( size / 1024 / 1024 )) MB)"

# Best wall time (seconds) of RUNS runs of "$@" (output discarded; the exit
# status must be 0: the file is valid).
best() {
    local best_t=
    for _ in $(seq "$RUNS"); do
        local s e t
        s=$(date +%s.%N)
        "$@" >/dev/null
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$best_t" ] || [ "$(echo "$t < $best_t" | bc -l)" = 1 ]; then best_t=$t; fi
    done
    printf '%.3f' "$best_t"
}

# Warm the page cache so both read from memory.
cat "$rdb" >/dev/null
redis_t=$(best redis-check-rdb "$rdb")
keel_t=$(best "$CHECK_BIN" "$rdb")
keel_nodup_t=$(best "$CHECK_BIN" --no-dup-check "$rdb")
"$CHECK_BIN" "$rdb" | tail -3
printf '%-34s %8s s\n' "redis-check-rdb" "$redis_t"
printf '%-34s %8s s   (%.2fx faster)\n' "keel-check-rdb" "$keel_t" "$(echo "$redis_t / $keel_t" | bc -l)"
printf '%-34s %8s s   (%.2fx faster)\n' "keel-check-rdb --no-dup-check" "$keel_nodup_t" \
    "$(echo "$redis_t / $keel_nodup_t" | bc -l)"
