#!/usr/bin/env bash
# Streams and HyperLogLog benchmark (issue 4): keel-server against
# redis-server 7.0.15, one at a time on the same port, same workload.
#
#   scripts/bench-streams.sh
#
# XADD of N entries (pipeline 32), XRANGE of 100 entries, XREADGROUP+XACK
# pairs (one consumer reading one entry and acknowledging it, pipelined by
# a small Python client), PFADD of PFADDS random elements into 100 keys
# (PFADD_BATCH elements per command, the commands generated once into a
# file and sent with redis-cli --pipe; elements/s), PFCOUNT over 10 keys,
# and used_memory of an N-entry stream. Prints ops/s for both and
# keel/redis (for memory: bytes and keel/redis).
#
# Environment: KEEL_BIN [target/release/keel-server, built here],
# ENTRIES [1000000], PFADDS [10000000], PFADD_BATCH [10], PORT [27500],
# NO_HLL [unset: set to 1 to skip the PFADD / PFCOUNT runs].
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for t in redis-server redis-cli redis-benchmark python3; do
    command -v "$t" >/dev/null || { echo "bench-streams: $t is not installed" >&2; exit 1; }
done
ENTRIES=${ENTRIES:-1000000}
PFADDS=${PFADDS:-10000000}
PFADD_BATCH=${PFADD_BATCH:-10}
PORT=${PORT:-27500}
if [ -z "${KEEL_BIN:-}" ]; then
    cargo build --release --bin keel-server
    KEEL_BIN="$repo/target/release/keel-server"
fi
work=$(mktemp -d /tmp/keel-bench-streams.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
C() { redis-cli -p "$PORT" "$@"; }
rps() { redis-benchmark -p "$PORT" --csv "$@" | tail -1 | cut -d, -f2 | tr -d '"'; }
mem() { C info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r'; }

# PFADD traffic: the same random elements for both servers.
if [ -z "${NO_HLL:-}" ]; then
    python3 - "$work/pfadd.resp" "$PFADDS" "$PFADD_BATCH" <<'PY'
import random, sys
path, total, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(4)
with open(path, "wb", buffering=1 << 20) as out:
    for i in range(0, total, per):
        args = [b"PFADD", b"hll:%d" % ((i // per) % 100)]
        args += [b"e%d" % rnd.getrandbits(48) for _ in range(min(per, total - i))]
        out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
fi

declare -A R
run() { # who bin
    local who=$1 bin=$2
    mkdir -p "$work/$who"
    "$bin" --port "$PORT" --bind 127.0.0.1 --dir "$work/$who" --save "" --appendonly no >"$work/$who/log" 2>&1 &
    pid=$!
    until [ "$(C ping 2>/dev/null)" = "PONG" ]; do sleep 0.05; done
    local m0; m0=$(mem)
    R[$who,xadd]=$(rps -n "$ENTRIES" -c 1 -P 32 XADD s '*' field value)
    R[$who,mem]=$(( $(mem) - m0 ))
    R[$who,xrange]=$(rps -n 100000 -c 50 XRANGE s - + COUNT 100)
    C xgroup create s g 0 >/dev/null
    R[$who,xrg]=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
def read():
    line = f.readline()
    t = line[:1]
    if t == b"*":
        n = int(line[1:])
        return None if n < 0 else [read() for _ in range(n)]
    if t == b"$":
        n = int(line[1:])
        if n < 0: return None
        d = f.read(n + 2)
        return d[:-2]
    return line[1:-2]
pairs, batch, t0 = 0, 32, time.time()
while time.time() - t0 < 5:
    s.sendall(b"".join(cmd(b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"s", b">") for _ in range(batch)))
    ids = [r[0][1][0][0] for r in (read() for _ in range(batch))]
    s.sendall(b"".join(cmd(b"XACK", b"s", b"g", i) for i in ids))
    for _ in ids: read()
    pairs += batch
print(int(pairs / (time.time() - t0)))
PY
)
    if [ -n "${NO_HLL:-}" ]; then
        C shutdown nosave >/dev/null 2>&1 || true
        wait "$pid" 2>/dev/null || true
        pid=""
        return
    fi
    local t0 t1
    t0=$(date +%s.%N)
    C --pipe < "$work/pfadd.resp" >/dev/null
    t1=$(date +%s.%N)
    R[$who,pfadd]=$(python3 -c "import sys; print(int(int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))" "$PFADDS" "$t0" "$t1")
    for i in $(seq 0 9); do C pfadd "k$i" $(seq $((i*1000)) $((i*1000+999))) >/dev/null; done
    R[$who,pfcount]=$(rps -n 200000 -c 50 PFCOUNT k0 k1 k2 k3 k4 k5 k6 k7 k8 k9)
    C shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" 2>/dev/null || true
    pid=""
}
run keel "$KEEL_BIN"
run redis redis-server
ratio() { python3 -c "import sys; a,b=float(sys.argv[1] or 0),float(sys.argv[2] or 0); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }
printf "%-36s %14s %14s %9s\n" metric keel redis keel/redis
metrics="xadd xrange xrg pfadd pfcount"
[ -n "${NO_HLL:-}" ] && metrics="xadd xrange xrg"
for m in $metrics; do
    case $m in
        xadd) label="XADD $ENTRIES entries, P32 (ops/s)";;
        xrange) label="XRANGE COUNT 100 (ops/s)";;
        xrg) label="XREADGROUP+XACK pairs/s";;
        pfadd) label="PFADD $PFADDS elements, 100 keys (el/s)";;
        pfcount) label="PFCOUNT over 10 keys (ops/s)";;
    esac
    printf "%-36s %14s %14s %9s\n" "$label" "${R[keel,$m]}" "${R[redis,$m]}" "$(ratio "${R[keel,$m]}" "${R[redis,$m]}")"
done
printf "%-36s %14s %14s %9s\n" "used_memory of the stream (bytes)" "${R[keel,mem]}" "${R[redis,mem]}" "$(ratio "${R[keel,mem]}" "${R[redis,mem]}")"
