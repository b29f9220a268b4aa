#!/usr/bin/env python3
"""The seed's Warmer design, as the push benchmark's baseline (bench/push.ts).

A port in the spirit of the original Flickr-style warmer the design card starts from:
one thread reads UDP hints, drops stale ones (older than ttl) and paths it pushed
recently, and hands each remaining path to a ThreadPool of 100 workers; each worker
keeps one persistent keep-alive http.client connection to the proxy and pushes with
HEAD and the colo's Host. No pipelining, no HTTP/2, one request per connection at a
time: what the seed's design does, with keep-alive added (the fair version of it).

Usage: seed_warmer.py PROXY_HOST:PORT COLO_HOST [TTL_MS]
Prints "READY <udp port>", then runs until SIGTERM; on SIGUSR1 prints one JSON line of
counts (received hints, stale, duplicate, pushed, failed).
"""
import collections
import http.client
import json
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

proxy_host, proxy_port = sys.argv[1].rsplit(":", 1)
colo_host = sys.argv[2]
ttl_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 50

counts = collections.Counter()
lock = threading.Lock()
local = threading.local()


def connection():
    c = getattr(local, "conn", None)
    if c is None:
        c = local.conn = http.client.HTTPConnection(proxy_host, int(proxy_port), timeout=2)
    return c


def push(path):
    try:
        c = connection()
        c.request("HEAD", path, headers={"Host": colo_host, "User-Agent": "seed-warmer"})
        r = c.getresponse()
        r.read()
        ok = 200 <= r.status < 300
    except Exception:
        local.conn = None
        ok = False
    with lock:
        counts["pushed" if ok else "failed"] += 1


def report(*_):
    with lock:
        sys.stdout.write(json.dumps(dict(counts)) + "\n")
    sys.stdout.flush()


def main():
    pool = ThreadPoolExecutor(max_workers=100)
    recent = collections.OrderedDict()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    signal.signal(signal.SIGUSR1, report)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", sock.getsockname()[1], flush=True)
    while True:
        data = sock.recv(65536)
        counts["received"] += 1
        try:
            hint = json.loads(data)
        except ValueError:
            counts["invalid"] += 1
            continue
        if time.time() * 1000 - hint["ts"] > ttl_ms:
            counts["stale"] += 1
            continue
        for path in hint["paths"]:
            if path in recent:
                counts["duplicate"] += 1
                continue
            recent[path] = True
            if len(recent) > 100000:
                recent.popitem(last=False)
            pool.submit(push, path)


main()
