#!/usr/bin/env bash
# Latency while a snapshot is taken, and the start-up load of it, shardis
# against redis-server in the same run. Each server holds KEYS keys
# (32-byte values) on core 0; shardis-bench on core 1 sends a fixed rate
# of GET and SET (50 connections x RATE requests/s each, 1:1) over the
# same keys for 8 s; after 2 s it asks for the job:
#   bgsave       BGSAVE (the RDB file)
#   bgrewriteaof BGREWRITEAOF (with appendonly yes, appendfsync everysec)
#   none         nothing (the baseline)
# and prints the p50/p99/p99.9/max latency of the whole run and how long
# the job took. Then each server is restarted on its file and the time
# until it answers PING is printed (the start-up load).
# Usage: benches/snapshot.sh [keys=1000000] [rate=1000] [runs=3]
# (SHARDIS=path runs another shardis binary; JOBS="bgsave" runs only
# those jobs; NO_LOAD=1 skips the start-up load.)
set -euo pipefail
keys=${1:-1000000}
rate=${2:-1000}
runs=${3:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
shardis=${SHARDIS:-./target/release/shardis}
bench=./target/release/shardis-bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # kind dir port appendonly
  mkdir -p "$2"
  if [ "$1" = redis ]; then
    taskset -c 0 redis-server --port "$3" --dir "$2" --save "" --appendonly "$4" \
      --appendfsync everysec > "$2/log" 2>&1 &
  else
    "$shardis" --port "$3" --cores 0 --dir "$2" --appendonly "$4" \
      --appendfsync everysec > "$2/log" 2>&1 &
  fi
  echo $!
}
wait_ping() { # port -> seconds until PONG
  local t0 t1
  t0=$(date +%s.%N)
  until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do sleep 0.01; done
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
fill() { # port
  "$bench" -p "$1" -t 1 -c 50 --ratio 1:0 --key-pattern P:P --key-minimum 1 \
    --key-maximum "$keys" -n $((keys / 50)) -d 32 > /dev/null 2>&1
}
job_running() { # port job -> 0/1
  local field=rdb_bgsave_in_progress
  [ "$2" = bgrewriteaof ] && field=aof_rewrite_in_progress
  redis-cli -p "$1" info persistence | tr -d '\r' | awk -F: -v f=$field '$1 == f { print $2 }'
}
measure() { # port job -> "p50 p99 p99.9 max job_seconds"
  local out="$work/out.json" t0 t1 took=0
  taskset -c 1 "$bench" -p "$1" -t 1 -c 50 --ratio 1:1 --key-minimum 1 \
    --key-maximum "$keys" --rate-limiting "$rate" --test-time 8 -d 32 \
    --print-percentiles 50,99,99.9 > "$work/report" 2>&1 &
  local loader=$!
  sleep 2
  if [ "$2" != none ]; then
    t0=$(date +%s.%N)
    redis-cli -p "$1" "$2" > /dev/null
    sleep 0.05
    while [ "$(job_running "$1" "$2")" = 1 ]; do sleep 0.01; done
    t1=$(date +%s.%N)
    took=$(echo "$t1 - $t0" | bc)
  fi
  wait $loader
  local totals
  totals=$(awk '$1 == "Totals" { print $4, $5, $6, $7 }' "$work/report")
  echo "$totals $took"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-9s %-13s %8s %8s %8s %8s %8s\n' server job p50_ms p99_ms p99.9_ms max_ms job_s
for job in ${JOBS:-none bgsave bgrewriteaof}; do
  appendonly=no
  [ "$job" = bgrewriteaof ] && appendonly=yes
  for kind in redis shardis; do
    results=()
    for run in $(seq "$runs"); do
      dir="$work/$kind-$job-$run"
      port=$(free_port)
      pid=$(start $kind "$dir" "$port" $appendonly)
      wait_ping "$port" > /dev/null
      fill "$port"
      results+=("$(measure "$port" "$job")")
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    done
    printf -v all '%s\n' "${results[@]}"
    col() { cut -d' ' -f"$1" <<< "$all" | grep . | median; }
    printf '%-9s %-13s %8s %8s %8s %8s %8s\n' $kind $job "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)"
  done
done

[ -n "${NO_LOAD:-}" ] && exit 0
echo
echo "start-up load of $keys keys (seconds until PING answers; median of $runs):"
for kind in redis shardis; do
  for source in rdb aof; do
    loads=()
    for run in $(seq "$runs"); do
      dir="$work/$kind-load-$source"
      rm -rf "$dir"
      port=$(free_port)
      appendonly=no
      [ "$source" = aof ] && appendonly=yes
      pid=$(start $kind "$dir" "$port" $appendonly)
      wait_ping "$port" > /dev/null
      fill "$port"
      if [ "$source" = rdb ]; then
        redis-cli -p "$port" save > /dev/null
      else
        redis-cli -p "$port" bgrewriteaof > /dev/null
        sleep 0.05
        while [ "$(job_running "$port" bgrewriteaof)" = 1 ]; do sleep 0.01; done
      fi
      redis-cli -p "$port" shutdown nosave > /dev/null 2>&1 || true
      wait "$pid" 2>/dev/null || true
      port=$(free_port)
      pid=$(start $kind "$dir" "$port" $appendonly)
      loads+=("$(wait_ping "$port")")
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    done
    printf -v all '%s\n' "${loads[@]}"
    echo "$kind from $source: $(median <<< "$all") s"
  done
done
