#!/usr/bin/env python3
"""Build the committed fuzz seed corpus (fuzz/corpus/<target>/) from ../shared/data.

Every seed is real input from the shared data set (captures from suricata-verify,
zeek, gopacket, dns-oarc, ndpi and linktype samples; the JSONL simulation; the
CIC-IDS2017 and UNSW-NB15 flow CSVs; the packaged configuration and the hostile
reproducers), cut small so libFuzzer starts fast. Deterministic: running it twice
gives the same files. Usage: scripts/fuzz-corpus.py  (from the repository root)
"""
import gzip
import hashlib
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "fuzz", "corpus")
LINKTYPES = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 147]


def put(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def pcap_records(data):
    """(linktype, [frame bytes]) of a classic pcap; None for anything else."""
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return linktype, frames


def udp_dns_payloads(linktype, frames):
    """DNS payloads of Ethernet/IPv4/UDP port-53 frames."""
    out = []
    for fr in frames:
        if linktype != 1 or len(fr) < 42 or fr[12:14] != b"\x08\x00":
            continue
        ihl = (fr[14] & 15) * 4
        if fr[23] != 17:
            continue
        u = 14 + ihl
        sport, dport = struct.unpack("!HH", fr[u:u + 4])
        if 53 in (sport, dport) or 5353 in (sport, dport):
            out.append(fr[u + 8:])
    return out


def captures():
    for sub in sorted(os.listdir(os.path.join(SHARED, "pcap"))):
        d = os.path.join(SHARED, "pcap", sub)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.path.getsize(p) < 256 * 1024:
                yield p


def main():
    if not os.path.isdir(SHARED):
        sys.exit(f"shared data not found at {SHARED}")
    n_cap = 0
    for p in captures():
        data = read(p)
        # read_capture: whole small files (pcap and pcapng), cut to 16 KiB.
        if len(data) <= 16 * 1024 and n_cap < 120:
            put("read_capture", data)
            n_cap += 1
        recs = pcap_records(data)
        if recs is None:
            continue
        linktype, frames = recs
        if linktype in LINKTYPES:
            # decode_packet: selector byte + up to 8 length-prefixed frames <= 255 bytes.
            small = [f for f in frames if 0 < len(f) <= 255][:8]
            if small:
                seed = bytes([LINKTYPES.index(linktype)])
                for f in small:
                    seed += bytes([len(f)]) + f
                put("decode_packet", seed)
        for payload in udp_dns_payloads(linktype, frames)[:4]:
            put("parse_dns", payload)
    for p in ("ipv6_hbh_hbh.pcap", "future_ts_packet.pcap"):
        data = read(os.path.join(SHARED, "hostile", p))
        put("read_capture", data[: 16 * 1024])
    put("decode_packet", read(os.path.join(SHARED, "hostile", "decode_packet-crash-minimized.bin")))

    # parse_jsonl_line: distinct shapes from the shipped simulation.
    seen = set()
    with open(os.path.join(ROOT, "simulations", "sample.jsonl"), "rb") as f:
        for line in f:
            key = (len(line) // 40, line.count(b'"label"'), line.count(b'"answers"'))
            if key not in seen:
                seen.add(key)
                put("parse_jsonl_line", line.rstrip(b"\n"))
            if len(seen) >= 40:
                break

    # read_logs: the Zeek and Suricata logs committed as test fixtures.
    logs = os.path.join(ROOT, "tests", "fixtures", "logs")
    for name in sorted(os.listdir(logs)):
        put("read_logs", read(os.path.join(logs, name)))

    # flow_csv: header + first rows of every flow file.
    for sub in ("cicids2017", "unsw-nb15"):
        d = os.path.join(SHARED, "flows", sub)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                lines = f.read().splitlines(keepends=True)
            put("flow_csv", b"".join(lines[:6]))

    # parse_config: the packaged config, its sections alone, the hostile configs.
    pkg = read(os.path.join(ROOT, "packaging", "sentineldns.toml"))
    put("parse_config", pkg)
    for part in pkg.split(b"\n["):
        put("parse_config", b"[" + part if not part.startswith(b"[") else part)
    for name in sorted(os.listdir(os.path.join(SHARED, "hostile"))):
        if name.endswith(".toml"):
            put("parse_config", read(os.path.join(SHARED, "hostile", name)))

    # load_bundle: the shipped model's header and a cut copy (the whole file is 1.7 MB).
    model = read(os.path.join(ROOT, "models", "default.bin"))
    put("load_bundle", model[:4096])
    put("load_bundle", model[:64])


if __name__ == "__main__":
    main()
