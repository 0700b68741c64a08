"""redis-py's PubSub, unchanged, against a server on 127.0.0.1:<port>.

Run by tests/e2e/pubsub.rs. Checks get_message, listen, pattern
subscriptions and (protocol=3) RESP3 push handling, with publishers on
separate connections (they land on every core). Prints "protocol N: ok"
per protocol; exits non-zero at the first mismatch.
"""

import sys
import time

import redis


def expect(got, want, what):
    if got != want:
        print(f"MISMATCH {what}: got {got!r}, want {want!r}")
        sys.exit(1)


def next_message(p, timeout=10.0):
    """The next message (not a confirmation), or fail after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            return m
    print("MISMATCH: no message within the timeout")
    sys.exit(1)


def check(port, protocol):
    r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    publishers = [redis.Redis(port=port, decode_responses=True) for _ in range(4)]
    p = r.pubsub()
    p.subscribe("py-chan")
    first = p.get_message(timeout=5)
    expect(first["type"], "subscribe", "the subscribe confirmation")
    expect(first["channel"], "py-chan", "the confirmed channel")
    expect(first["data"], 1, "the subscription count")

    # get_message: a message from each publisher.
    for i, pub in enumerate(publishers):
        expect(pub.publish("py-chan", f"m{i}"), 1, "PUBLISH's count")
        m = next_message(p)
        expect((m["type"], m["channel"], m["data"]), ("message", "py-chan", f"m{i}"), "a message")

    # Patterns: pmessage with the pattern.
    p.psubscribe("py-*")
    conf = p.get_message(timeout=5)
    expect((conf["type"], conf["data"]), ("psubscribe", 2), "the psubscribe confirmation")
    expect(publishers[1].publish("py-chan", "both"), 2, "channel + pattern count")
    got = sorted((m["type"], m.get("pattern")) for m in (next_message(p), next_message(p)))
    expect(got, [("message", None), ("pmessage", "py-*")], "a message and a pmessage")

    # Handlers run from get_message.
    seen = []
    p.psubscribe(**{"py-h*": lambda m: seen.append(m["data"])})
    p.get_message(timeout=5)
    publishers[2].publish("py-handled", "h")
    deadline = time.time() + 10
    while not seen and time.time() < deadline:
        p.get_message(timeout=0.5)
    expect(seen, ["h"], "a pattern handler's message")

    p.unsubscribe("py-chan")
    p.punsubscribe("py-h*")

    # listen(): numbered messages from each publisher, in its order.
    p2 = r.pubsub(ignore_subscribe_messages=True)
    p2.subscribe("py-listen")
    p2.get_message(timeout=5)  # (confirmation ignored, returns None)
    for n in range(20):
        publishers[0].publish("py-listen", str(n))
    got = []
    for m in p2.listen():
        if m["type"] == "message":
            got.append(m["data"])
            if len(got) == 20:
                break
    expect(got, [str(n) for n in range(20)], "listen()'s messages")

    # The regular connection still works; PING on the PubSub connection.
    expect(r.set("py-k", "v"), True, "SET on the client")
    p.ping()
    deadline = time.time() + 5
    pong = None
    while pong is None and time.time() < deadline:
        pong = p.get_message(timeout=0.5)
    expect(pong is not None, True, "PING's reply on the PubSub connection")

    p.close()
    p2.close()
    expect(r.pubsub_numsub("py-chan", "py-listen"), [("py-chan", 0), ("py-listen", 0)], "NUMSUB after close")
    print(f"protocol {protocol}: ok")


def main():
    port = int(sys.argv[1])
    for protocol in (2, 3):
        check(port, protocol)


if __name__ == "__main__":
    main()
