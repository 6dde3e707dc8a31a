#!/usr/bin/env bash
# RDB persistence benchmark: keel-server against redis-server 7.0.15 on the
# same dataset, one server at a time (the machine is shared), same config.
#
#   scripts/bench-rdb.sh
#
# Environment (defaults in brackets):
#   KEEL_BIN      server under test [target/release/keel-server, built here];
#                 KEEL_BIN=redis-server compares Redis with itself (checks the script)
#   STRINGS       string keys, made with DEBUG POPULATE (16-byte values) [1000000]
#   COLL          keys of each collection kind and size [100000]
#   SMALL, LARGE  elements per small / large collection [5, 130]; 130 is above
#                 the 128-entry listpack limits, so large hashes/sets/zsets are
#                 hashtable/skiplist encoded
#   REQUESTS      redis-benchmark SET requests per run [200000]
#   SAVE_DELAY    rdb-key-save-delay (microseconds per key; negative = 1/N chance of 1 us)
#                 set on both servers to stretch BGSAVE over the benchmark [0]
#   BENCH_PORTS   port range lo-hi [20000-29999]
#
# Steps: a reference redis-server builds the dataset (DEBUG POPULATE for the
# strings, server-side Lua loops for 100k each of small and large hashes,
# lists, sets and sorted sets) and SAVEs it. Then each server in turn:
#   1. starts on that file: load time = spawn until PING answers PONG (not -LOADING);
#   2. parent SET throughput with no save running (baseline);
#   3. BGSAVE, with redis-benchmark SET running meanwhile: BGSAVE wall time
#      (until rdb_bgsave_in_progress:0), latest_fork_usec, RDB size, and the
#      SET throughput while the child runs;
# and prints each metric for both with the ratio keel/redis.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "bench-rdb: $tool is not installed" >&2; exit 1; }
done
echo "reference: $(redis-server --version)"
case "$(redis-server --version)" in
    *v=7.0.15*) ;;
    *) echo "bench-rdb: warning: the reference should be redis-server 7.0.15" >&2 ;;
esac

STRINGS=${STRINGS:-1000000}
COLL=${COLL:-100000}
SMALL=${SMALL:-5}
LARGE=${LARGE:-130}
REQUESTS=${REQUESTS:-200000}
SAVE_DELAY=${SAVE_DELAY:-0}

if [ -z "${KEEL_BIN:-}" ]; then
    cargo build --release --bin keel-server
    KEEL_BIN="$repo/target/release/keel-server"
fi
echo "under test: $KEEL_BIN"

work=$(mktemp -d /tmp/keel-bench-rdb.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

range=${BENCH_PORTS:-20000-29999}
next_port=${range%-*}
port_hi=${range#*-}
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    while [ "$next_port" -le "$port_hi" ]; do
        local p=$next_port
        next_port=$((next_port + 1))
        if ! in_use "$p" && ! in_use $((p + 10000)); then
            echo "$p"
            return
        fi
    done
    echo "bench-rdb: no free port in $range" >&2
    exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# start <dir> <binary> [args...]: starts a server in <dir> on dump.rdb and
# waits until it answers PONG; sets PORT, PID and LOAD_SECS.
start() {
    local dir=$1 bin=$2
    shift 2
    PORT=$(free_port)
    local t0
    t0=$(now)
    "$bin" --port "$PORT" --bind 127.0.0.1 --dir "$dir" --dbfilename dump.rdb --save '' \
        --appendonly no --daemonize no "$@" >"$dir/log" 2>&1 &
    PID=$!
    pids+=("$PID")
    local deadline=$((SECONDS + 600))
    until [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = "PONG" ]; do
        if ! kill -0 "$PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "bench-rdb: $bin did not start in $dir:" >&2
            tail -20 "$dir/log" >&2
            exit 1
        fi
        sleep 0.01 # polling the condition above
    done
    LOAD_SECS=$(elapsed "$t0" "$(now)")
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

info_field() { # <port> <section> <field>
    { redis-cli -p "$1" info "$2" 2>/dev/null || true; } | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}

# set_rps <port>: SET requests/second (redis-benchmark, 50 clients, keys
# from a 1000-key space so the dataset barely grows).
set_rps() {
    redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "$REQUESTS" -r 1000 -t set --csv 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

# --- the dataset, built once by the reference server ---------------------
mkdir -p "$work/build"
start "$work/build" redis-server --enable-debug-command yes
build_port=$PORT; build_pid=$PID
echo "building: $STRINGS strings + $COLL each of {hash,list,set,zset} x {$SMALL,$LARGE} elements"
t0=$(now)
redis-cli -p "$build_port" debug populate "$STRINGS" str 16 >/dev/null
# Server-side loops: no protocol cost. Small sets hold integers (intset).
lua='
local kind, from, to, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = from, to do
  local key = kind .. ":" .. n .. ":" .. i
  local a = {}
  if kind == "hash" then
    for j = 1, n do a[#a + 1] = "field:" .. j; a[#a + 1] = "value:" .. j .. ":" .. i end
    redis.call("HSET", key, unpack(a))
  elseif kind == "list" then
    for j = 1, n do a[#a + 1] = "element:" .. j .. ":" .. i end
    redis.call("RPUSH", key, unpack(a))
  elseif kind == "set" then
    for j = 1, n do if n <= 16 then a[#a + 1] = j * 7 + i else a[#a + 1] = "member:" .. j end end
    redis.call("SADD", key, unpack(a))
  else
    for j = 1, n do a[#a + 1] = j + i / 1000; a[#a + 1] = "member:" .. j end
    redis.call("ZADD", key, unpack(a))
  end
end
return to - from + 1'
batch=5000
for kind in hash list set zset; do
    for n in "$SMALL" "$LARGE"; do
        from=1
        while [ "$from" -le "$COLL" ]; do
            to=$((from + batch - 1))
            [ "$to" -le "$COLL" ] || to=$COLL
            redis-cli -p "$build_port" eval "$lua" 0 "$kind" "$from" "$to" "$n" >/dev/null
            from=$((to + 1))
        done
    done
done
keys=$(redis-cli -p "$build_port" dbsize)
expected=$((STRINGS + 8 * COLL))
[ "$keys" = "$expected" ] || { echo "bench-rdb: built $keys keys, expected $expected" >&2; exit 1; }
redis-cli -p "$build_port" save >/dev/null
build_mem=$(info_field "$build_port" memory used_memory_human)
stop "$build_pid"
echo "built $keys keys in $(elapsed "$t0" "$(now)") s (used_memory $build_mem), RDB $(stat -c %s "$work/build/dump.rdb") bytes"

# --- each server in turn --------------------------------------------------
declare -A load_s base_rps bg_s fork_us rdb_size during_rps mem overlap
for name in keel redis; do
    bin=redis-server
    [ "$name" = keel ] && bin=$KEEL_BIN
    mkdir -p "$work/$name"
    cp "$work/build/dump.rdb" "$work/$name/dump.rdb"
    start "$work/$name" "$bin"
    port=$PORT; pid=$PID
    load_s[$name]=$LOAD_SECS
    got=$(redis-cli -p "$port" dbsize)
    [ "$got" = "$keys" ] || { echo "bench-rdb: $name loaded $got keys, expected $keys" >&2; exit 1; }
    mem[$name]=$(info_field "$port" memory used_memory)
    base_rps[$name]=$(set_rps "$port")
    if [ "$SAVE_DELAY" != 0 ]; then
        redis-cli -p "$port" config set rdb-key-save-delay "$SAVE_DELAY" >/dev/null
    fi
    t0=$(now)
    reply=$(redis-cli -p "$port" bgsave)
    case "$reply" in
        *"Background saving started"*) ;;
        *) echo "bench-rdb: $name BGSAVE: $reply" >&2; exit 1 ;;
    esac
    set_rps "$port" >"$work/$name/during" &
    bench_pid=$!
    pids+=("$bench_pid")
    bench_done_first=no
    while [ "$(info_field "$port" persistence rdb_bgsave_in_progress)" != 0 ]; do
        if ! kill -0 "$bench_pid" 2>/dev/null; then bench_done_first=yes; fi
        sleep 0.005 # polling the condition above
    done
    bg_s[$name]=$(elapsed "$t0" "$(now)")
    wait "$bench_pid" || true
    during_rps[$name]=$(cat "$work/$name/during")
    overlap[$name]=$bench_done_first
    status=$(info_field "$port" persistence rdb_last_bgsave_status)
    [ "$status" = ok ] || { echo "bench-rdb: $name rdb_last_bgsave_status: $status" >&2; exit 1; }
    fork_us[$name]=$(info_field "$port" stats latest_fork_usec)
    rdb_size[$name]=$(stat -c %s "$work/$name/dump.rdb")
    stop "$pid"
    echo "$name: done"
done

ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
    else
        echo -
    fi
}
row() { printf '%-34s %14s %14s %8s\n' "$1" "${2:-n/a}" "${3:-n/a}" "$(ratio "$2" "$3")"; }
echo
echo "dataset: $keys keys; SAVE_DELAY=$SAVE_DELAY; REQUESTS=$REQUESTS"
printf '%-34s %14s %14s %8s\n' metric keel redis keel/redis
row "startup load time (s)" "${load_s[keel]}" "${load_s[redis]}"
row "used_memory after load (bytes)" "${mem[keel]}" "${mem[redis]}"
row "BGSAVE wall time (s)" "${bg_s[keel]}" "${bg_s[redis]}"
row "latest_fork_usec" "${fork_us[keel]}" "${fork_us[redis]}"
row "RDB size (bytes)" "${rdb_size[keel]}" "${rdb_size[redis]}"
row "SET rps, no save running" "${base_rps[keel]}" "${base_rps[redis]}"
row "SET rps during BGSAVE" "${during_rps[keel]}" "${during_rps[redis]}"
for name in keel redis; do
    if [ "${overlap[$name]}" = no ]; then
        echo "note: on $name BGSAVE ended before the SET benchmark did; raise SAVE_DELAY or lower REQUESTS for a full overlap"
    fi
done
