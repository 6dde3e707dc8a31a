#!/usr/bin/env bash
# Runs units of Redis's own TCL test suite against target/release/keel-server.
#
#   scripts/redis-tcl.sh /path/to/redis-7.0.15-tree [unit ...]
#
# The tree is an extracted Redis 7.0.15 source tree (nothing is fetched or
# compiled; see ../shared/redis-tcl/README.md for how to extract one). It is
# copied privately, so several runs can share one tree.
# Without units, the units of the commands keel implements run.
#
# Environment: REDIS_TCL (runner directory, default ../shared/redis-tcl next
# to the repository), BASEPORT (default 21100), OUT_DIR (logs and
# summary.tsv; default a new temp dir), plus every knob of run.sh.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1/tests" ]; then
    echo "usage: $0 /path/to/redis-7.0.15-tree [unit ...]" >&2
    exit 2
fi
tree=$(cd "$1" && pwd)
shift
units=("$@")
if [ ${#units[@]} -eq 0 ]; then
    # The units of the foundation and collections issues.
    units=(unit/keyspace unit/info unit/info-command unit/type/string unit/type/incr
           unit/expire unit/multi unit/pubsub unit/pubsubshard unit/protocol unit/bitops
           unit/bitfield unit/scan unit/auth unit/quit unit/introspection unit/introspection-2
           unit/latency-monitor unit/slowlog unit/limits unit/querybuf unit/maxmemory
           unit/type/list unit/type/list-2 unit/type/list-3 unit/type/hash unit/type/set
           unit/type/zset unit/sort unit/geo)
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
runner_dir=${REDIS_TCL:-$repo/../shared/redis-tcl}
[ -x "$runner_dir/run.sh" ] || { echo "redis-tcl: no run.sh in $runner_dir (set REDIS_TCL)" >&2; exit 2; }

bin="$repo/target/release/keel-server"
(cd "$repo" && cargo build --release --bin keel-server)

work=$(mktemp -d /tmp/keel-redis-tcl.XXXXXX)
trap 'rm -rf "$work/tree"' EXIT
cp -r "$tree" "$work/tree"
out=${OUT_DIR:-$work/out}
mkdir -p "$out"

echo "redis-tcl: keel=$bin tree copy=$work/tree out=$out"
status=0
SERVER_BIN="$bin" OUT_DIR="$out" "$runner_dir/run.sh" "$work/tree" "${units[@]}" || status=$?
echo "redis-tcl: summary in $out/summary.tsv, logs in $out/*.log, failures in $out/failures.tsv"
exit $status
