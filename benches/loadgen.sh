#!/usr/bin/env bash
# shardis-bench against redis-benchmark on the same redis-server: can one
# shardis-bench thread push the server as hard? redis-server pinned to
# core 0, each generator in turn on core 1 (one thread, 50 connections),
# SET and GET of 32-byte values over 100,000 random keys; runs alternate
# between the two generators; medians of RUNS runs.
# Usage: benches/loadgen.sh [runs=5] [requests=200000 per command]
set -euo pipefail
runs=${1:-5}
requests=${2:-200000}
clients=50
cd "$(dirname "$0")/.."
cargo build --release -q --bin shardis-bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
port=$(free_port)
taskset -c 0 redis-server --port "$port" --save "" --appendonly no > /dev/null &
sleep 1

# redis-benchmark: "SET GET" requests per second.
redis_benchmark() { # pipeline
  taskset -c 1 redis-benchmark -p "$port" -c $clients -n $((requests * $1)) -P "$1" \
    -t set,get -d 32 -r 100000 -q 2>/dev/null | tr '\r' '\n' |
    grep -E '^(SET|GET): [0-9.]+ requests per second' | cut -d' ' -f2 | paste -sd' '
}
# shardis-bench: Totals ops/s of a SET-only run, a GET-only run, a 1:1 run.
shardis_bench() { # pipeline
  local per_client=$((requests * $1 / clients)) out=""
  for ratio in 1:0 0:1 1:1; do
    local n=$per_client
    [ "$ratio" = 1:1 ] && n=$((2 * per_client))
    out+=" $(taskset -c 1 ./target/release/shardis-bench -p "$port" -t 1 -c $clients \
      --pipeline "$1" --ratio $ratio -n $n -d 32 --key-maximum 99999 2>/dev/null |
      awk '$1 == "Totals" { print $2 }')"
  done
  echo $out
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
column() { cut -d' ' -f"$1" | median; }

for pipeline in 1 16; do
  rb=() sb=()
  for _ in $(seq "$runs"); do
    rb+=("$(redis_benchmark "$pipeline")")
    sb+=("$(shardis_bench "$pipeline")")
  done
  printf -v rbs '%s\n' "${rb[@]}"
  printf -v sbs '%s\n' "${sb[@]}"
  echo "pipeline $pipeline: redis-benchmark SET $(column 1 <<< "$rbs") GET $(column 2 <<< "$rbs") ops/s;" \
    "shardis-bench SET $(column 1 <<< "$sbs") GET $(column 2 <<< "$sbs") SET:GET 1:1 $(column 3 <<< "$sbs") ops/s" \
    "(median of $runs)"
done
