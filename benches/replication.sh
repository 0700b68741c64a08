#!/usr/bin/env bash
# Replication, shardis against redis-server in the same run, each master
# followed by a redis-server replica (master on core 0; replica and load on
# core 1):
#   throughput  SET with 50 connections (no pipelining and -P 16) with no
#               replica and with one: the with/without ratio
#   lag         while that load runs: master_repl_offset minus the offset
#               the replica acknowledged, sampled every 10 ms (bytes)
#   sync        seconds from REPLICAOF to the replica's link up, KEYS keys
#               of 32 bytes (redis-server with repl-diskless-sync-delay 0)
#   busy        shardis only (2 shards): while a 2 s script holds shard 0,
#               how long shard 1's writes take to show on the replica
# Usage: benches/replication.sh [keys=1000000] [requests=1000000] [runs=3]
# (SHARDIS=path runs another shardis binary; PARTS="sync busy" runs only
# those parts.)
set -euo pipefail
keys=${1:-1000000}
requests=${2:-1000000}
runs=${3:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
shardis=${SHARDIS:-./target/release/shardis}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start_master() { # kind port [shards]
  if [ "$1" = redis ]; then
    # No delay before a diskless sync (Redis 7.0 waits 5 s for more replicas).
    taskset -c 0 redis-server --port "$2" --dir "$work" --save "" --appendonly no \
      --repl-diskless-sync-delay 0 > /dev/null 2>&1 &
  else
    "$shardis" --port "$2" --cores "${3:-0}" --dir "$work" > /dev/null 2>&1 &
  fi
  echo $!
}
start_replica() { # port master_port
  mkdir -p "$work/r$1"
  taskset -c 1 redis-server --port "$1" --dir "$work/r$1" --save "" --appendonly no \
    --replicaof 127.0.0.1 "$2" > /dev/null 2>&1 &
  echo $!
}
field() { # port section field
  redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}
wait_up() { # port
  until [ "$(field "$1" replication master_link_status 2>/dev/null)" = up ] &&
    [ "$(field "$1" replication master_sync_in_progress)" = 0 ]; do sleep 0.01; done
}
wait_port() { until redis-cli -p "$1" ping > /dev/null 2>&1; do sleep 0.01; done; }
stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rps() { # port pipeline -> SET requests per second
  taskset -c 1 redis-benchmark -p "$1" -c 50 -n "$requests" -r 100000 -P "$2" -t set -q 2>/dev/null |
    tr '\r' '\n' | awk '/requests per second/ { print $2 }' | tail -1
}
sample_lag() { # master_port -> lags in bytes, one per line, until killed
  while true; do
    local info master acked
    info=$(redis-cli -p "$1" info replication | tr -d '\r')
    master=$(echo "$info" | awk -F: '$1 == "master_repl_offset" { print $2 }')
    acked=$(echo "$info" | awk -F'offset=' '/^slave0:/ { split($2, a, ","); print a[1] }')
    [ -n "$acked" ] && echo $((master - acked))
    sleep 0.01
  done
}
percentile() { # p -> value
  sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) print v[int((NR - 1) * p / 100) + 1]; else print "-" }'
}

parts=${PARTS:-throughput sync busy}
if [[ " $parts " == *" throughput "* ]]; then
  printf '%-8s %-3s %12s %12s %6s %12s %12s\n' master P alone_rps replica_rps ratio lag_p50_B lag_p99_B
  for pipeline in 1 16; do
    for kind in shardis redis; do
      alone=() with=() lags="$work/lags"
      : > "$lags"
      for _ in $(seq "$runs"); do
        port=$(free_port)
        master=$(start_master "$kind" "$port")
        wait_port "$port"
        alone+=("$(rps "$port" "$pipeline")")
        rport=$(free_port)
        replica=$(start_replica "$rport" "$port")
        wait_up "$rport"
        sample_lag "$port" >> "$lags" &
        sampler=$!
        with+=("$(rps "$port" "$pipeline")")
        stop "$sampler"
        stop "$replica" "$master"
      done
      a=$(printf '%s\n' "${alone[@]}" | median)
      w=$(printf '%s\n' "${with[@]}" | median)
      printf '%-8s %-3s %12.0f %12.0f %6.2f %12s %12s\n' "$kind" "$pipeline" "$a" "$w" \
        "$(echo "$w / $a" | bc -l)" "$(percentile 50 < "$lags")" "$(percentile 99 < "$lags")"
    done
  done
fi

if [[ " $parts " == *" sync "* ]]; then
  printf '%-8s %10s %8s\n' master keys sync_s
  for kind in shardis redis; do
    times=()
    port=$(free_port)
    master=$(start_master "$kind" "$port")
    wait_port "$port"
    taskset -c 1 ./target/release/shardis-bench -p "$port" -t 1 -c 50 --ratio 1:0 \
      --key-pattern P:P --key-minimum 1 --key-maximum "$keys" -n $((keys / 50)) -d 32 > /dev/null 2>&1
    [ "$(redis-cli -p "$port" dbsize)" = "$keys" ] || { echo "fill failed" >&2; exit 1; }
    for _ in $(seq "$runs"); do
      rport=$(free_port)
      mkdir -p "$work/r$rport"
      taskset -c 1 redis-server --port "$rport" --dir "$work/r$rport" --save "" > /dev/null 2>&1 &
      replica=$!
      wait_port "$rport"
      t0=$(date +%s.%N)
      redis-cli -p "$rport" replicaof 127.0.0.1 "$port" > /dev/null
      wait_up "$rport"
      t1=$(date +%s.%N)
      times+=("$(echo "$t1 - $t0" | bc)")
      stop "$replica"
    done
    stop "$master"
    printf '%-8s %10s %8.2f\n' "$kind" "$keys" "$(printf '%s\n' "${times[@]}" | median)"
  done
fi

if [[ " $parts " == *" busy "* ]]; then
  port=$(free_port)
  "$shardis" --port "$port" --cores 0,1 --dir "$work" > /dev/null 2>&1 &
  master=$!
  wait_port "$port"
  rport=$(free_port)
  replica=$(start_replica "$rport" "$port")
  wait_up "$rport"
  python3 benches/support/busy_lag.py "$port" "$rport"
  stop "$replica" "$master"
fi
