#!/usr/bin/env bash
# EVALSHA throughput of a small script (INCR of a key), shardis against
# redis-server in the same run: each server pinned to core 0, the load
# generator (redis-benchmark) on core 1; median of 3 runs each. Keys are
# random over 100,000 (`-r 100000`), as issue 14 measured.
# Usage: benches/evalsha.sh [requests=200000] [clients=50] [pipeline=1]
# (SHARDIS=path runs another shardis binary, e.g. an older build;
# KIND=fcall measures FCALL of a function doing the same INCR instead.)
set -euo pipefail
requests=${1:-200000}
clients=${2:-50}
pipeline=${3:-1}
cd "$(dirname "$0")/.."
cargo build --release -q
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
rport=$(free_port)
taskset -c 0 redis-server --port "$rport" --save "" --appendonly no > /dev/null &
sport=$(free_port)
"${SHARDIS:-./target/release/shardis}" --port "$sport" --cores 0 > /dev/null &
sleep 1
kind=${KIND:-evalsha}
script='return redis.call("incr", KEYS[1])'
library=$'#!lua name=benchlib\nredis.register_function("incr1", function(keys) return redis.call("incr", keys[1]) end)'
run() { # port -> requests per second
  local call
  if [ "$kind" = fcall ]; then
    [ "$(redis-cli -p "$1" function load replace "$library")" = benchlib ] ||
      { echo "FUNCTION LOAD failed on port $1" >&2; return 1; }
    call=(fcall incr1)
  else
    local sha
    sha=$(redis-cli -p "$1" script load "$script")
    [ -n "$sha" ] || { echo "SCRIPT LOAD failed on port $1" >&2; return 1; }
    call=(evalsha "$sha")
  fi
  timeout 300 taskset -c 1 redis-benchmark -p "$1" -n "$requests" -c "$clients" -P "$pipeline" -r 100000 -q \
    "${call[@]}" 1 "counter:__rand_int__" 2>/dev/null |
    tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
median() { sort -n | sed -n 2p; }
r=$(for _ in 1 2 3; do run "$rport"; done | median)
s=$(for _ in 1 2 3; do run "$sport"; done | median)
echo "${kind^^} (clients=$clients pipeline=$pipeline): redis-server $r ops/s, shardis (1 shard) $s ops/s, ratio $(python3 -c "print(round($s/$r, 2))")"
