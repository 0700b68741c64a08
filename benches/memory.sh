#!/usr/bin/env bash
# Memory footprint: N keys with V-byte string values, loaded into shardis and
# into redis-server with the same `redis-cli --pipe` stream; prints each
# server's resident memory (RSS) and its own used_memory figure.
# Usage: benches/memory.sh [keys=1000000] [value_bytes=100] [shards=1]
set -euo pipefail
keys=${1:-1000000}
value_bytes=${2:-100}
shards=${3:-1}
cd "$(dirname "$0")/.."
cargo build --release -q
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
python3 - "$keys" "$value_bytes" > "$tmp/load.resp" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
value = b"x" * size
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # name port pid
  local before after used
  before=$(rss_kib "$3")
  redis-cli -p "$2" --pipe < "$tmp/load.resp" > /dev/null
  sleep 1
  after=$(rss_kib "$3")
  used=$(redis-cli -p "$2" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
  printf "%-12s keys=%s rss_before=%6d KiB rss_after=%7d KiB rss_delta=%7d KiB used_memory=%s\n" \
    "$1" "$(redis-cli -p "$2" dbsize)" "$before" "$after" $((after - before)) "$used"
}
rport=$(free_port)
redis-server --port "$rport" --save "" --appendonly no > /dev/null &
rpid=$!
sport=$(free_port)
./target/release/shardis --port "$sport" --shards "$shards" > /dev/null &
spid=$!
sleep 1
measure redis-server "$rport" "$rpid"
measure "shardis/$shards" "$sport" "$spid"
