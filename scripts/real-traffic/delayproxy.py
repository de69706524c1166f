#!/usr/bin/env python3
"""Tiny DNS latency emulator for the lab (the VM has no sch_netem).

Listens on LISTEN:53 (UDP and TCP) on the "auth" host and relays to NSD on
UPSTREAM, holding each UDP exchange for a random WAN-like delay (split between
the query and the answer), so the recursive resolver's cache misses take tens
of milliseconds as on the real internet instead of ~0.1 ms. TCP is relayed
without added delay. Exits by itself after --lifetime seconds.
"""
import argparse
import asyncio
import random
import socket


def parse_hp(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ip:port")
    ap.add_argument("--upstream", required=True, help="ip:port")
    ap.add_argument("--median-ms", type=float, default=18.0)
    ap.add_argument("--sigma", type=float, default=0.6)
    ap.add_argument("--lifetime", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    up = parse_hp(a.upstream)
    lhost, lport = parse_hp(a.listen)
    loop = asyncio.get_running_loop()

    def delay():
        return min(0.4, rnd.lognormvariate(0, a.sigma) * a.median_ms / 1000.0)

    class Proto(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.t = transport

        def datagram_received(self, data, addr):
            loop.create_task(self.relay(data, addr))

        async def relay(self, data, addr):
            d = delay()
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            try:
                s.connect(up)
                await asyncio.sleep(d / 2)
                s.send(data)
                resp = await asyncio.wait_for(loop.sock_recv(s, 65535), 3.0)
            except (asyncio.TimeoutError, OSError):
                return
            finally:
                s.close()
            await asyncio.sleep(d / 2)
            self.t.sendto(resp, addr)

    await loop.create_datagram_endpoint(Proto, local_addr=(lhost, lport))

    async def pipe(r, w):
        try:
            while True:
                b = await r.read(65535)
                if not b:
                    break
                w.write(b)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def on_tcp(cr, cw):
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(*up), 3.0)
        except (asyncio.TimeoutError, OSError):
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    server = await asyncio.start_server(on_tcp, lhost, lport)
    async with server:
        await asyncio.sleep(a.lifetime)


if __name__ == "__main__":
    asyncio.run(main())
