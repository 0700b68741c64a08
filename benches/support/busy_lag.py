"""While a script holds shard 0 of a 2-shard shardis master for 2-3 s,
how long shard 1's writes take to show on a replica: SET on the master,
then GET on the replica until it shows (ms). Used by benches/replication.sh.
Usage: busy_lag.py MASTER_PORT REPLICA_PORT"""
import sys
import threading
import time

import redis
from redis.crc import key_slot

SHARDS = 2
SLOTS = 16384
SCRIPT = ("local t = redis.call('time'); local stop = tonumber(t[1]) + 3; "
          "while tonumber(redis.call('time')[1]) < stop do end; return 1")


def shard_of(key):
    return ((key_slot(key.encode()) + 1) * SHARDS - 1) // SLOTS


def key_on(shard, prefix):
    n = 0
    while shard_of(f"{prefix}{n}") != shard:
        n += 1
    return f"{prefix}{n}"


def main():
    port, replica_port = int(sys.argv[1]), int(sys.argv[2])
    master = redis.Redis(port=port)
    replica = redis.Redis(port=replica_port)
    busy = threading.Thread(
        target=lambda: redis.Redis(port=port).eval(SCRIPT, 1, key_on(0, "busy")))
    busy.start()
    time.sleep(0.3)
    key = key_on(1, "free")
    lags = []
    deadline = time.time() + 1.5
    while time.time() < deadline:
        value = str(len(lags)).encode()
        master.set(key, value)
        sent = time.perf_counter()
        while replica.get(key) != value:
            pass
        lags.append((time.perf_counter() - sent) * 1000)
        time.sleep(0.005)
    running = busy.is_alive()
    busy.join()
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    print(f"busy: {len(lags)} writes to shard 1 while a script held shard 0 "
          f"(still running at the end: {running}): lag p50 {lags[len(lags) // 2]:.2f} ms, "
          f"p99 {p99:.2f} ms, max {lags[-1]:.2f} ms")


if __name__ == "__main__":
    main()
