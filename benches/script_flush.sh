#!/usr/bin/env bash
# Memory SCRIPT FLUSH gives back: N distinct scripts are run with EVAL
# (each compiled and cached), then SCRIPT FLUSH; prints used_memory before,
# after loading and after the flush, for redis-server and shardis, over
# ROUNDS rounds on the same servers.
# Usage: benches/script_flush.sh [scripts=50000] [shards=2] [rounds=3]
# (SHARDIS=path runs another shardis binary, e.g. an older build.)
set -euo pipefail
scripts=${1:-50000}
shards=${2:-2}
rounds=${3:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
python3 - "$scripts" > "$tmp/evals.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    body = b"return %d" % i
    out.write(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body))
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }
measure() { # name port
  local before loaded after round
  for round in $(seq "$rounds"); do
    redis-cli -p "$2" script flush > /dev/null
    sleep 1
    before=$(used "$2")
    redis-cli -p "$2" --pipe < "$tmp/evals.resp" > /dev/null
    loaded=$(used "$2")
    redis-cli -p "$2" script flush > /dev/null
    sleep 1
    after=$(used "$2")
    printf "%-12s round %d: used_memory before=%d loaded=+%d after_flush=%+d\n" \
      "$1" "$round" "$before" $((loaded - before)) $((after - before))
  done
}
rport=$(free_port)
redis-server --port "$rport" --save "" --appendonly no > /dev/null &
sport=$(free_port)
"${SHARDIS:-./target/release/shardis}" --port "$sport" --shards "$shards" > /dev/null &
sleep 1
measure redis-server "$rport"
measure "shardis/$shards" "$sport"
