#!/usr/bin/python3
"""The robot-side latency probe in Python, for `engram bench transport --probe python`.

A robot that talks to engram is more likely a blocking C++ or Python client than a Node one, and
a blocking receive wakes differently from Node's event loop. This probe measures frame-to-action as
such a robot sees it, with examples/python/engram_client.py (python3-zmq, python3-msgpack), and the
libzmq floor with no Node anywhere:

  --echo FRAMES ACTIONS       run a bare PULL -> PUB echo (the floor's server side) until 'quit'
  --raw BYTES                 probe an echo with BYTES-sized messages (seq in the first 4 bytes)
  (neither)                   probe engram with the example client's protocol

Command line and result match drivers/zmq/probe.ts: one JSON object as the last line of stdout,
with latenciesNs and seqs of the answered measured frames. The clock is time.perf_counter_ns; the
frame is packed before its send time is taken, so the figure is socket send to action in hand
(including the client's decode of the action).
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))
from engram_client import EngramClient  # noqa: E402


def echo(frames, actions):
    context = zmq.Context.instance()
    pull = context.socket(zmq.PULL)
    pub = context.socket(zmq.PUB)
    for sock in (pull, pub):
        sock.setsockopt(zmq.LINGER, 0)
    pull.bind(frames)
    pub.bind(actions)
    print(json.dumps({"frames": pull.getsockopt_string(zmq.LAST_ENDPOINT),
                      "actions": pub.getsockopt_string(zmq.LAST_ENDPOINT)}), flush=True)
    while True:
        message = pull.recv()
        if message == b"quit":
            break
        try:
            pub.send(message, zmq.NOBLOCK)
        except zmq.Again:
            pass  # dropped, as engram's driver would
    pull.close()
    pub.close()


def paced(rate, total, one):
    """Calls one(k) for k in range(total), one per period; late: skip ahead rather than burst."""
    period = 1.0 / rate
    next_time = time.perf_counter()
    for k in range(total):
        one(k)
        next_time += period
        delay = next_time - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            next_time = time.perf_counter()


def probe_raw(args):
    context = zmq.Context.instance()
    push = context.socket(zmq.PUSH)
    sub = context.socket(zmq.SUB)
    for sock in (push, sub):
        sock.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDHWM, 64)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    push.connect(args.frames)
    sub.connect(args.actions)
    message = bytearray(max(4, args.raw))

    def receive_seq(seq, timeout_ms):
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sub.poll(int(left * 1000) + 1):
                return False
            reply = sub.recv()
            if len(reply) >= 4 and struct.unpack_from("<I", reply, 0)[0] == seq:
                return True

    # the subscription joins late: ping until an echo comes back
    for attempt in range(101):
        struct.pack_into("<I", message, 0, 0xFFFFFFFF - attempt)
        push.send(bytes(message))
        if receive_seq(0xFFFFFFFF - attempt, 100):
            break
    else:
        raise RuntimeError("no echo from %s" % args.frames)
    result = {"latenciesNs": [], "seqs": [], "missing": 0}

    def one(k):
        struct.pack_into("<I", message, 0, k)
        payload = bytes(message)
        sent_ns = time.perf_counter_ns()
        push.send(payload)
        answered = receive_seq(k, args.timeout_ms)
        received_ns = time.perf_counter_ns()
        if k >= args.warmup:
            if answered:
                result["latenciesNs"].append(received_ns - sent_ns)
                result["seqs"].append(k)
            else:
                result["missing"] += 1

    total = args.warmup + args.count
    paced(args.rate, total, one)
    push.send(b"quit")  # ends a Python echo; a Node echo just echoes it
    push.close()
    sub.close()
    return {"sent": total, "answered": len(result["seqs"]), "missing": result["missing"], "stale": 0,
            "latenciesNs": result["latenciesNs"], "seqs": result["seqs"], "rehellos": 0}


def probe_engram(args):
    channels = [(name, int(size)) for name, size in (spec.split(":") for spec in args.channel)]
    client = EngramClient(args.frames, args.actions, channels, args.action_size, name="zmq_probe.py")
    client.connect(10_000)
    result = {"latenciesNs": [], "seqs": [], "missing": 0, "stale": 0}

    def one(k):
        # the same smooth signal as drivers/zmq/probe.ts, so a learning brain sees trajectories
        t = k / args.rate
        values = {name: [math.sin(t * (0.5 + (i % 7) * 0.3) + i) for i in range(size)] for name, size in channels}
        seq, payload = client.pack_frame(values, reward=math.cos(t), episode_start=k % 1000 == 0)
        sent_ns = time.perf_counter_ns()
        client.push.send(payload)
        action = client.action_for(seq, args.timeout_ms)
        received_ns = time.perf_counter_ns()
        if k >= args.warmup:
            if action is not None and action["frameSeq"] == seq:
                result["latenciesNs"].append(received_ns - sent_ns)
                result["seqs"].append(seq)
                result["stale"] += 1 if action["stale"] else 0
            else:
                result["missing"] += 1

    total = args.warmup + args.count
    paced(args.rate, total, one)
    client.close()
    return {"sent": total, "answered": len(result["seqs"]), "missing": result["missing"], "stale": result["stale"],
            "latenciesNs": result["latenciesNs"], "seqs": result["seqs"], "rehellos": client.rehellos}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", default="tcp://127.0.0.1:5555")
    parser.add_argument("--actions", default="tcp://127.0.0.1:5556")
    parser.add_argument("--channel", action="append", default=[], help="name:size (repeat per channel)")
    parser.add_argument("--action-size", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--timeout-ms", type=float, default=500.0)
    parser.add_argument("--raw", type=int, help="probe a bare echo with messages of this many bytes")
    parser.add_argument("--echo", action="store_true", help="be the bare echo (binds --frames and --actions)")
    args = parser.parse_args(argv)
    if args.echo:
        echo(args.frames, args.actions)
        return 0
    result = probe_raw(args) if args.raw is not None else probe_engram(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
