#!/usr/bin/env python3
"""Stall witness for `engram bench loop`.

Sleeps to absolute ticks on one CPU and records every wake later than a threshold, as
[due, woke] pairs on CLOCK_MONOTONIC (the clock Node's hrtime reads). The bench runs one witness
per CPU beside the loop: a stall that every CPU's witness saw at once was the whole machine's (the
virtual machine descheduled by its host, say), not something in engram's process.

Prints "ready" once it keeps time, then one JSON object on SIGTERM or after --duration-s:
{"cpu", "wakes", "gaps": [[due, woke], ...]}.
"""

import argparse
import json
import os
import signal
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, required=True, help="the CPU to pin this witness to")
    parser.add_argument("--period-us", type=int, default=1000, help="tick period (default 1000)")
    parser.add_argument("--threshold-us", type=int, default=2000, help="record wakes later than this (default 2000)")
    parser.add_argument("--duration-s", type=float, default=3600.0, help="stop after this long (default 3600)")
    args = parser.parse_args()

    os.sched_setaffinity(0, {args.cpu})
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    period = args.period_us * 1000
    threshold = args.threshold_us * 1000
    end = time.monotonic_ns() + int(args.duration_s * 1e9)
    gaps = []
    wakes = 0
    # the first tick is set before "ready": a stall right after it is then a late wake, not a late start
    due = time.monotonic_ns()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while not stopping:
        due += period
        delay = due - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        woke = time.monotonic_ns()
        wakes += 1
        if woke - due > threshold:
            gaps.append([due, woke])
        if woke - due > period:
            # skip the missed ticks, as the loop does: no burst of late wakes after a stall
            due = woke - (woke - due) % period
        if woke >= end:
            break
    json.dump({"cpu": args.cpu, "wakes": wakes, "gaps": gaps}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
