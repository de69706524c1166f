#!/usr/bin/env python3
"""Data pushed through the iodine tunnel (TCP over the dns0 tun interface).

  serve   runs on the iodined host, listens on the tunnel address; for each
          connection reads a one-line command: "UP n" (then n bytes are
          received and discarded) or "DOWN n" (n random bytes are sent back).
  drive   runs on the infected host: a C2-like loop of small "beacon"
          exchanges every few seconds, plus throttled bulk phases (the first
          one a download of "tooling", then mostly exfil of random, i.e.
          encrypted-looking, bytes upstream, sometimes another download)
          until --up-bytes/--down-bytes are spent.

Both exit by themselves at --until (epoch seconds). Rates are throttled with
--rate (bytes/s) so the capture stays small.
"""
import argparse
import json
import os
import random
import socket
import threading
import time


def serve(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = a.until
    while True:
        try:
            s.bind((a.host, a.port))
            break
        except OSError:
            if time.time() > deadline:
                return
            time.sleep(1)          # tunnel address not configured yet
    s.listen(8)
    s.settimeout(2.0)

    def handle(c):
        c.settimeout(60)
        try:
            f = c.makefile("rb")
            cmd = f.readline().decode().split()
            n = int(cmd[1])
            if cmd[0] == "UP":
                got = 0
                while got < n:
                    b = f.read(min(4096, n - got))
                    if not b:
                        break
                    got += len(b)
                c.sendall(b"OK %d\n" % got)
            else:
                sent = 0
                while sent < n and time.time() < deadline:
                    chunk = os.urandom(min(a.chunk, n - sent))
                    c.sendall(chunk)
                    sent += len(chunk)
                    time.sleep(len(chunk) / a.rate)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            c.close()

    while time.time() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def exchange(a, cmd, n, rate):
    """One TCP exchange; returns bytes moved (0 on failure)."""
    t0 = time.time()
    moved = 0
    try:
        c = socket.create_connection((a.host, a.port), timeout=20)
        c.settimeout(60)
        c.sendall(("%s %d\n" % (cmd, n)).encode())
        moved = 0
        if cmd == "UP":
            while moved < n and time.time() < a.until:
                chunk = os.urandom(min(a.chunk, n - moved))
                c.sendall(chunk)
                moved += len(chunk)
                time.sleep(len(chunk) / rate)
            c.shutdown(socket.SHUT_WR)
            c.recv(64)
        else:
            while moved < n and time.time() < a.until:
                b = c.recv(4096)
                if not b:
                    break
                moved += len(b)
        c.close()
        err = ""
    except OSError as e:
        err = " error=%r" % e
    if n > 1000:
        print("%.1f %s %d moved=%d in %.1fs%s" % (t0, cmd, n, moved, time.time() - t0, err), flush=True)
    return moved if not err else 0


def drive(a):
    rnd = random.Random(a.seed)
    up_left, down_left = a.up_bytes, a.down_bytes
    stats = {"beacons": 0, "up": 0, "down": 0, "failures": 0}
    next_bulk = time.time() + rnd.uniform(20, 60)
    n = 0
    while time.time() < a.until and n < 100000:
        n += 1
        # small C2 beacon: send a few hundred bytes, get a short answer
        moved = exchange(a, "UP", rnd.randint(64, 600), a.rate)
        stats["beacons"] += 1
        if moved == 0:
            stats["failures"] += 1
        if time.time() >= next_bulk and (up_left > 0 or down_left > 0):
            # the first bulk phase fetches "tooling" (download), later ones mostly exfiltrate
            first = down_left == a.down_bytes and up_left == a.up_bytes
            if down_left > 0 and (first or up_left <= 0 or rnd.random() < 0.35):
                k = min(down_left, rnd.randint(8000, 40000))
                got = exchange(a, "DOWN", k, a.rate)
                down_left -= max(got, 1)
                stats["down"] += got
            elif up_left > 0:
                k = min(up_left, rnd.randint(20000, 80000))
                got = exchange(a, "UP", k, a.rate)
                up_left -= max(got, 1)
                stats["up"] += got
            next_bulk = time.time() + rnd.uniform(15, 90)
        if a.stats:
            with open(a.stats, "w") as f:
                json.dump(stats, f)
        left = a.until - time.time()
        if left <= 0:
            break
        time.sleep(min(left, rnd.uniform(a.beacon_min, a.beacon_max)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "drive"])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--until", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=1500.0, help="bytes/s for bulk transfers (both ends)")
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--up-bytes", type=int, default=300000)
    ap.add_argument("--down-bytes", type=int, default=100000)
    ap.add_argument("--beacon-min", type=float, default=3.0)
    ap.add_argument("--beacon-max", type=float, default=12.0)
    ap.add_argument("--stats")
    a = ap.parse_args()
    serve(a) if a.mode == "serve" else drive(a)


if __name__ == "__main__":
    main()
