#!/usr/bin/env bash
# Collections benchmark (issue 3, point 7): keel-server against
# redis-server 7.0.15, side by side on free ports, same workload.
#
#   scripts/bench-collections.sh
#
# 1. Throughput: redis-benchmark -c 50 -n $REQUESTS --csv -t <test> at
#    pipeline 1 and 32 for lpush, rpush, lpop, rpop, sadd, hset, spop, zadd,
#    zpopmin, lrange_100, lrange_600 (redis-benchmark's own data: it fills
#    the list with LPUSH before the LRANGE tests). Each round runs every
#    test against keel then redis; the best rps of $ROUNDS rounds is kept
#    per line (the machine is shared, runs are noisy). Prints both rps and
#    keel/redis per line.
# 2. Memory: 100k hashes of 10 small fields, 100k sets of 10 small
#    integers and 100k sorted sets of 10 members, each dataset loaded into
#    a fresh pair of servers through redis-cli --pipe (so no dataset pays
#    for the keyspace growth of another); prints the used_memory growth
#    per key for each dataset and keel/redis.
#
# Environment: REQUESTS [100000], ROUNDS [3] (0: memory only), KEYS [100000],
# BENCH_PORTS=lo-hi [24000-24999], KEEL_BIN [target/release/keel-server,
# built here], TESTS [the list above].
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "bench-collections: $tool is not installed" >&2; exit 1; }
done
echo "redis-server: $(redis-server --version)"
case "$(redis-server --version)" in
    *v=7.0.15*) ;;
    *) echo "bench-collections: warning: the reference should be redis-server 7.0.15" >&2 ;;
esac
REQUESTS=${REQUESTS:-100000}
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-100000}
TESTS=${TESTS:-lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_600}
if [ -z "${KEEL_BIN:-}" ]; then
    cargo build --release --bin keel-server
    KEEL_BIN="$repo/target/release/keel-server"
fi

work=$(mktemp -d /tmp/keel-bench-colls.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

range=${BENCH_PORTS:-24000-24999}
next_port=${range%-*}
port_hi=${range#*-}
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    while [ "$next_port" -le "$port_hi" ]; do
        local p=$next_port
        next_port=$((next_port + 1))
        if ! in_use "$p"; then
            echo "$p"
            return
        fi
    done
    echo "bench-collections: no free port in $range" >&2
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
            echo "bench-collections: $name did not start:" >&2
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

start keel "$KEEL_BIN"; keel_port=$PORT; keel_pid=$PID
start redis redis-server; redis_port=$PORT; redis_pid=$PID
echo "keel on $keel_port (pid $keel_pid), redis on $redis_port (pid $redis_pid)"
echo "requests per line: $REQUESTS, rounds: $ROUNDS (best rps kept)"

# bench <port> <pipeline> <test>: "NAME<TAB>rps" lines (LRANGE tests also
# print the LPUSH that fills the list; it is dropped below).
bench() {
    local csv
    csv=$(redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "$REQUESTS" -P "$2" -t "$3" --csv 2>/dev/null) || return 0
    echo "$csv" | awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); print $1 "\t" $2 }' |
        grep -v 'needed to benchmark' || true
}
best() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }

declare -A K R NAME
for round in $(seq 1 "$ROUNDS"); do
    for pipe in 1 32; do
        for t in $TESTS; do
            k=$(bench "$keel_port" "$pipe" "$t")
            r=$(bench "$redis_port" "$pipe" "$t")
            NAME[$pipe,$t]=${r%%$'\t'*}
            K[$pipe,$t]=$(best "${K[$pipe,$t]:-0}" "${k#*$'\t'}")
            R[$pipe,$t]=$(best "${R[$pipe,$t]:-0}" "${r#*$'\t'}")
        done
    done
    echo "round $round done" >&2
done

[ "$ROUNDS" -gt 0 ] && echo && printf '%-32s %4s %12s %12s %8s\n' test pipe keel_rps redis_rps ratio
[ "$ROUNDS" -gt 0 ] && for pipe in 1 32; do
    for t in $TESTS; do
        ratio=$(awk -v a="${K[$pipe,$t]}" -v b="${R[$pipe,$t]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-32s %4s %12s %12s %8s\n' "${NAME[$pipe,$t]}" "$pipe" "${K[$pipe,$t]}" "${R[$pipe,$t]}" "$ratio"
    done
done

stop "$keel_pid"; stop "$redis_pid"

used_memory() {
    { redis-cli -p "$1" info memory 2>/dev/null || true; } | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}

# gen <kind>: KEYS commands of one dataset in RESP.
gen() {
    awk -v n="$KEYS" -v kind="$1" 'function bulk(s) { printf "$%d\r\n%s\r\n", length(s), s }
    BEGIN {
        for (i = 0; i < n; i++) {
            if (kind == "hash") {
                printf "*22\r\n"; bulk("HSET"); bulk(sprintf("hash:%08d", i))
                for (j = 0; j < 10; j++) { bulk("field" j); bulk(sprintf("val%d:%d", j, i % 1000)) }
            } else if (kind == "set") {
                printf "*12\r\n"; bulk("SADD"); bulk(sprintf("set:%08d", i))
                for (j = 0; j < 10; j++) bulk(j * 100 + i % 100)
            } else {
                printf "*22\r\n"; bulk("ZADD"); bulk(sprintf("zset:%08d", i))
                for (j = 0; j < 10; j++) { bulk(j * 10 + i % 7); bulk("member:" j) }
            }
        }
    }'
}

declare -A G
echo
for kind in hash set zset; do
    gen "$kind" >"$work/$kind.resp"
    # Fresh servers for each dataset.
    start keel "$KEEL_BIN"; keel_port=$PORT; keel_pid=$PID
    start redis redis-server; redis_port=$PORT; redis_pid=$PID
    for name in keel redis; do
        if [ "$name" = keel ]; then port=$keel_port; else port=$redis_port; fi
        before=$(used_memory "$port")
        out=$(redis-cli -p "$port" --pipe <"$work/$kind.resp" 2>&1) || true
        echo "$name $kind: $(echo "$out" | tail -1)"
        echo "$out" | grep -q "errors: 0, replies: $KEYS" || { echo "bench-collections: load into $name failed" >&2; exit 1; }
        after=$(used_memory "$port")
        G[$name,$kind]=$((after - before))
    done
    enc_k=$(redis-cli -p "$keel_port" object encoding "$kind:00000001")
    enc_r=$(redis-cli -p "$redis_port" object encoding "$kind:00000001")
    [ "$enc_k" = "$enc_r" ] || echo "bench-collections: warning: $kind encoding keel=$enc_k redis=$enc_r" >&2
    stop "$keel_pid"; stop "$redis_pid"
done

echo
printf '%-40s %10s %10s %8s\n' "used_memory growth (bytes/key)" keel redis ratio
for kind in hash set zset; do
    case $kind in
        hash) label="$KEYS hashes, 10 fields (listpack)";;
        set) label="$KEYS sets, 10 integers (intset)";;
        zset) label="$KEYS zsets, 10 members (listpack)";;
    esac
    k=$(awk -v a="${G[keel,$kind]}" -v n="$KEYS" 'BEGIN { printf "%.1f", a / n }')
    r=$(awk -v a="${G[redis,$kind]}" -v n="$KEYS" 'BEGIN { printf "%.1f", a / n }')
    ratio=$(awk -v a="$k" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
    printf '%-40s %10s %10s %8s\n' "$label" "$k" "$r" "$ratio"
done
