#!/usr/bin/env bash
# Memory per idle connection: N clients connect, each sends one PING and
# reads the reply, then all stay open and idle; prints each server's
# resident-memory (RSS) and used_memory growth per connection.
# Usage: benches/idle_clients.sh [clients=5000] [shards=1]
# (SHARDIS=path runs another shardis binary, e.g. an older build.)
set -euo pipefail
clients=${1:-5000}
shards=${2:-1}
cd "$(dirname "$0")/.."
cargo build --release -q
ulimit -n $((clients * 2 + 100))
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
measure() { # name port pid
  python3 - "$1" "$2" "$3" "$clients" <<'PY'
import socket, subprocess, sys, time
name, port, pid, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
def used():
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"],
                         capture_output=True, text=True).stdout
    return int(next(l for l in out.splitlines() if l.startswith("used_memory:")).split(":")[1])
time.sleep(0.5)
rss0, used0 = rss_kib(), used()
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PING\r\n")
    conns.append(s)
for s in conns:
    assert s.recv(16) == b"+PONG\r\n"
time.sleep(1)
rss1, used1 = rss_kib(), used()
print(f"{name:14} clients={n} rss/conn={(rss1 - rss0) * 1024 / n:8.0f} B "
      f"used_memory/conn={(used1 - used0) / n:8.0f} B")
PY
}
rport=$(free_port)
redis-server --port "$rport" --save "" --appendonly no --maxclients $((clients + 10)) > /dev/null &
rpid=$!
sport=$(free_port)
"${SHARDIS:-./target/release/shardis}" --port "$sport" --shards "$shards" --maxclients $((clients + 10)) > /dev/null &
spid=$!
sleep 1
measure redis-server "$rport" "$rpid"
measure "shardis/$shards" "$sport" "$spid"
