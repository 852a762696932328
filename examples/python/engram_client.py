#!/usr/bin/python3
"""A robot-side client for engram's ZeroMQ protocol (version 1; see docs/protocol.md).

Needs only Debian's python3-zmq and python3-msgpack (apt install python3-zmq python3-msgpack).
Use it as a module:

    from engram_client import EngramClient
    client = EngramClient("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556",
                          channels=[("joints", 7), ("imu", 6)], action_size=7)
    client.connect()
    seq = client.send_frame({"joints": q, "imu": imu}, reward=r)
    action = client.action_for(seq, timeout_ms=50)   # dict: frameSeq, stale, values, ...

or run it as a demo robot that sends a sine wave and reports round-trip times:

    /usr/bin/python3 examples/python/engram_client.py --channel joints:3 --action-size 2 --rate 100 --count 500
"""

import argparse
import json
import math
import random
import struct
import sys
import time

import msgpack
import zmq

PROTOCOL_VERSION = 1


def pack_floats(values):
    """Little-endian float32 bytes: the wire form of every vector."""
    return struct.pack("<%df" % len(values), *values)


def unpack_floats(raw):
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


class HelloRejected(Exception):
    pass


class EngramClient:
    """PUSH frames to engram, SUB to its actions. Re-greets engram by itself after engram restarts."""

    def __init__(self, frames, actions, channels, action_size, name="python-client", session=None, curve=None):
        """channels: list of (name, size). curve: optional dict with server_public_key, public_key, secret_key (z85)."""
        self.channels = [(str(n), int(s)) for n, s in channels]
        self.sizes = dict(self.channels)
        self.action_size = int(action_size)
        self.name = name
        # a new session per process start: engram takes it as "this robot restarted"
        self.session = session if session is not None else random.randint(1, 0x7FFFFFFF)
        self.seq = 0
        self.rehellos = 0
        self.needs_hello = False
        self.context = zmq.Context.instance()
        self.push = self.context.socket(zmq.PUSH)
        self.sub = self.context.socket(zmq.SUB)
        for sock in (self.push, self.sub):
            sock.setsockopt(zmq.LINGER, 0)
            if curve:
                sock.curve_serverkey = curve["server_public_key"].encode()
                sock.curve_publickey = curve["public_key"].encode()
                sock.curve_secretkey = curve["secret_key"].encode()
        self.push.setsockopt(zmq.SNDHWM, 64)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.push.connect(frames)
        self.sub.connect(actions)
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)

    def _hello_bytes(self):
        return msgpack.packb(
            {
                "v": PROTOCOL_VERSION,
                "type": "hello",
                "session": self.session,
                "client": self.name,
                "channels": [{"name": n, "size": s} for n, s in self.channels],
                "actionSize": self.action_size,
            },
            use_bin_type=True,
        )

    def connect(self, timeout_ms=5000):
        """Say hello until engram welcomes this session. Returns the welcome message."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            # PUB/SUB joins late: repeat the hello until the welcome gets through
            self.push.send(self._hello_bytes())
            end = min(deadline, time.monotonic() + 0.1)
            while time.monotonic() < end:
                message = self._receive(int((end - time.monotonic()) * 1000) + 1)
                if message is None:
                    continue
                if message["type"] == "welcome":
                    return message
                if message["type"] == "reject" and message.get("reason") == "helloMismatch":
                    raise HelloRejected(message.get("detail", ""))
        raise TimeoutError("no welcome from engram within %d ms" % timeout_ms)

    def send_frame(self, values, reward=0.0, episode_start=False, estop=False):
        """values: {channel name: sequence of floats} (all channels or some). Returns the frame's seq."""
        if self.needs_hello:
            self.needs_hello = False
            self.rehellos += 1
            self.push.send(self._hello_bytes())
        seq, payload = self.pack_frame(values, reward, episode_start, estop)
        try:
            self.push.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            return -1  # engram is not keeping up: drop this frame, the next one is fresher
        return seq

    def pack_frame(self, values, reward=0.0, episode_start=False, estop=False):
        """The next frame's (seq, message bytes), not sent: send_frame sends it; a latency probe
        packs first so that its clock starts at the send."""
        channels = {}
        for name, vector in values.items():
            if self.sizes.get(name) != len(vector):
                raise ValueError("channel %r needs %s values, got %d" % (name, self.sizes.get(name), len(vector)))
            channels[name] = pack_floats(vector)
        seq = self.seq
        self.seq += 1
        message = {
            "v": PROTOCOL_VERSION,
            "type": "frame",
            "session": self.session,
            "seq": seq,
            "stamp": time.monotonic_ns(),
            "channels": channels,
            "reward": float(reward),
            "episodeStart": bool(episode_start),
            "estop": bool(estop),
        }
        return seq, msgpack.packb(message, use_bin_type=True)

    def next_action(self, timeout_ms=1000):
        """The next action for this session as a dict, or None after timeout_ms."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            message = self._receive(int(left * 1000) + 1)
            if message is not None and message["type"] == "action":
                return message

    def action_for(self, seq, timeout_ms=1000):
        """The action answering frame `seq` (older ones skipped), or None after timeout_ms."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            action = self.next_action(int(left * 1000) + 1)
            if action is None:
                return None
            if action["frameSeq"] >= seq:
                return action

    def _receive(self, timeout_ms):
        if not self.poller.poll(timeout_ms):
            return None
        raw = self.sub.recv()
        try:
            message = msgpack.unpackb(raw, raw=False)
        except Exception:
            return None
        if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
            return None
        if message.get("session") != self.session:
            return None
        if message.get("type") == "reject" and message.get("reason") == "noHandshake":
            self.needs_hello = True  # engram restarted and forgot us: greet again with the next frame
        if message.get("type") == "action":
            message["values"] = unpack_floats(message["values"])
        return message

    def close(self):
        self.push.close()
        self.sub.close()


def read_key_pair(path):
    """(public, secret) z85 keys from a zcert file (public-key = "...", secret-key = "...") or two bare lines."""
    public = secret = None
    bare = []
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if "=" in line:
                label, _, value = line.partition("=")
                value = value.strip().strip('"')
                if label.strip() == "public-key":
                    public = value
                elif label.strip() == "secret-key":
                    secret = value
            elif len(line) == 40:
                bare.append(line)
    if public is None and len(bare) == 2:
        public, secret = bare
    if public is None or secret is None:
        raise ValueError("%s: expected a public and a secret z85 key" % path)
    return public, secret


def main(argv=None):
    parser = argparse.ArgumentParser(description="demo robot: sends a sine wave to engram, reads actions")
    parser.add_argument("--frames", default="tcp://127.0.0.1:5555")
    parser.add_argument("--actions", default="tcp://127.0.0.1:5556")
    parser.add_argument("--channel", action="append", required=True, help="name:size (repeat per channel)")
    parser.add_argument("--action-size", type=int, required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="frames per second")
    parser.add_argument("--count", type=int, default=500, help="frames to send")
    parser.add_argument("--timeout-ms", type=float, default=200.0, help="wait this long for each action")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    parser.add_argument("--server-key", help="engram's CURVE public key (z85): needed when engram binds beyond loopback")
    parser.add_argument("--key-file", help="this robot's CURVE key pair: a zcert file or two lines (public, secret; z85)")
    args = parser.parse_args(argv)

    channels = []
    for spec in args.channel:
        name, _, size = spec.partition(":")
        channels.append((name, int(size)))
    curve = None
    if args.server_key:
        if not args.key_file:
            parser.error("--server-key needs --key-file with this robot's key pair")
        public, secret = read_key_pair(args.key_file)
        curve = {"server_public_key": args.server_key, "public_key": public, "secret_key": secret}
    client = EngramClient(args.frames, args.actions, channels, args.action_size, name="engram_client.py", curve=curve)
    welcome = client.connect()
    if not args.json:
        print("welcomed by %s: channels %s, action size %d" % (welcome["server"], welcome["channels"], welcome["actionSize"]))

    period = 1.0 / args.rate
    next_time = time.monotonic()
    latencies_us = []
    missing = 0
    samples = []
    for k in range(args.count):
        t = k * period
        values = {name: [round(2.0 * math.sin(t + i), 6) for i in range(size)] for name, size in channels}
        sent_ns = time.monotonic_ns()
        seq = client.send_frame(values, reward=0.0, episode_start=(k == 0))
        action = client.action_for(seq, args.timeout_ms) if seq >= 0 else None
        if action is None or action["frameSeq"] != seq:
            missing += 1
        else:
            latencies_us.append((time.monotonic_ns() - sent_ns) / 1000)
            samples.append({"seq": seq, "observation": [v for name, _ in channels for v in values[name]],
                            "action": action["values"], "stale": action["stale"]})
            samples = samples[-20:]
        next_time += period
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    latencies_us.sort()

    def percentile(q):
        return latencies_us[min(len(latencies_us) - 1, int(q * len(latencies_us)))] if latencies_us else None

    summary = {
        "sent": args.count,
        "answered": len(latencies_us),
        "missing": missing,
        "rehellos": client.rehellos,
        "roundTripUs": {"p50": percentile(0.5), "p99": percentile(0.99), "max": latencies_us[-1] if latencies_us else None},
        "samples": samples,
    }
    client.close()
    if args.json:
        print(json.dumps(summary))
    else:
        print("answered %d of %d frames; round trip p50 %s us, p99 %s us" % (
            summary["answered"], args.count, summary["roundTripUs"]["p50"], summary["roundTripUs"]["p99"]))
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
