#!/usr/bin/env bash
# Benchmarks keel-server against redis-server side by side on this machine.
#
#   scripts/bench.sh            (BENCH_PORTS=lo-hi picks the port range, default 20000-29999)
#
# 1. Throughput: redis-benchmark -c 50 -n 200000 --csv for set,get,incr,mset
#    at pipeline 1 and 32, against each server; prints both rps and the
#    ratio keel/redis per line. A command keel does not implement yet is
#    shown as "n/a" (its replies would be errors, not work).
# 2. Memory: both servers start empty, then load the same 1,000,000 keys
#    (16-byte keys, 16-byte values) through redis-cli --pipe; prints the
#    growth per key of used_memory (INFO memory, when the server has INFO)
#    and of the process RSS, and the ratio keel/redis.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
echo "redis-server: $(redis-server --version)"
case "$(redis-server --version)" in
    *v=7.0.15*) ;;
    *) echo "bench: warning: the reference should be redis-server 7.0.15" >&2 ;;
esac

cargo build --release --bin keel-server
keel_bin="$repo/target/release/keel-server"

work=$(mktemp -d /tmp/keel-bench.XXXXXX)
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
# A port P with P and P+10000 free.
free_port() {
    while [ "$next_port" -le "$port_hi" ]; do
        local p=$next_port
        next_port=$((next_port + 1))
        if ! in_use "$p" && ! in_use $((p + 10000)); then
            echo "$p"
            return
        fi
    done
    echo "bench: no free port in $range" >&2
    exit 1
}

# start <name> <binary>: starts a server, sets PORT and PID.
start() {
    local name=$1 bin=$2
    PORT=$(free_port)
    mkdir -p "$work/$name"
    "$bin" --port "$PORT" --bind 127.0.0.1 --dir "$work/$name" --save '' --appendonly no \
        --daemonize no >"$work/$name/log" 2>&1 &
    PID=$!
    pids+=("$PID")
    local deadline=$((SECONDS + 30))
    until [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = "PONG" ]; do
        if ! kill -0 "$PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "bench: $name did not start:" >&2
            cat "$work/$name/log" >&2
            exit 1
        fi
        sleep 0.05 # polling the condition above
    done
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

start keel "$keel_bin"; keel_port=$PORT; keel_pid=$PID
start redis redis-server; redis_port=$PORT; redis_pid=$PID
echo "keel on $keel_port (pid $keel_pid), redis on $redis_port (pid $redis_pid)"

# bench <port> <pipeline> <test>: prints "NAME<TAB>rps", or nothing when
# the server answered with errors (redis-benchmark then exits non-zero).
bench() {
    local csv
    csv=$(redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n 200000 -P "$2" -t "$3" --csv 2>/dev/null) || return 0
    echo "$csv" | awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); print $1 "\t" $2 }'
}

echo
printf '%-18s %4s %14s %14s %8s\n' test pipe keel_rps redis_rps ratio
for pipe in 1 32; do
    for t in set get incr mset; do
        k_line=$(bench "$keel_port" "$pipe" "$t")
        r_line=$(bench "$redis_port" "$pipe" "$t")
        name=${r_line%%$'\t'*}
        r_rps=${r_line#*$'\t'}
        if [ -z "$k_line" ]; then
            printf '%-18s %4s %14s %14s %8s\n' "$name" "$pipe" "n/a" "$r_rps" "-"
            continue
        fi
        k_rps=${k_line#*$'\t'}
        ratio=$(awk -v a="$k_rps" -v b="$r_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-18s %4s %14s %14s %8s\n' "$name" "$pipe" "$k_rps" "$r_rps" "$ratio"
    done
done

# Memory: fresh servers (FLUSHALL would do when every server has it; a
# restart gives the same empty baseline on any branch).
stop "$keel_pid"; stop "$redis_pid"
start keel "$keel_bin"; keel_port=$PORT; keel_pid=$PID
start redis redis-server; redis_port=$PORT; redis_pid=$PID

used_memory() {
    { redis-cli -p "$1" info memory 2>/dev/null || true; } | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}
rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

keys=1000000
echo
echo "generating $keys SET commands (16-byte keys and values)"
awk -v n="$keys" 'BEGIN {
    for (i = 0; i < n; i++) {
        k = sprintf("key:%012d", i); v = sprintf("val:%012d", i)
        printf "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$16\r\n%s\r\n", k, v
    }
}' >"$work/load.resp"

declare -A um_before um_after rss_before rss_after
for name in keel redis; do
    if [ "$name" = keel ]; then port=$keel_port; pid=$keel_pid; else port=$redis_port; pid=$redis_pid; fi
    um_before[$name]=$(used_memory "$port")
    rss_before[$name]=$(rss_bytes "$pid")
    out=$(redis-cli -p "$port" --pipe <"$work/load.resp" 2>&1) || true
    echo "$name: $(echo "$out" | tail -1)"
    echo "$out" | grep -q "errors: 0, replies: $keys" || { echo "bench: load into $name failed" >&2; exit 1; }
    check=$(redis-cli -p "$port" get key:000000999999)
    [ "$check" = "val:000000999999" ] || { echo "bench: $name lost keys" >&2; exit 1; }
    um_after[$name]=$(used_memory "$port")
    rss_after[$name]=$(rss_bytes "$pid")
done

per_key() { # before after -> bytes per key, or n/a
    if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" -v n="$keys" 'BEGIN { printf "%.1f", (b - a) / n }'; else echo n/a; fi
}
ratio() {
    if [ "$1" != n/a ] && [ "$2" != n/a ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo -; fi
}
echo
printf '%-26s %12s %12s %8s\n' "memory (bytes/key)" keel redis ratio
k=$(per_key "${um_before[keel]}" "${um_after[keel]}"); r=$(per_key "${um_before[redis]}" "${um_after[redis]}")
printf '%-26s %12s %12s %8s\n' "used_memory growth" "$k" "$r" "$(ratio "$k" "$r")"
k=$(per_key "${rss_before[keel]}" "${rss_after[keel]}"); r=$(per_key "${rss_before[redis]}" "${rss_after[redis]}")
printf '%-26s %12s %12s %8s\n' "RSS growth" "$k" "$r" "$(ratio "$k" "$r")"
