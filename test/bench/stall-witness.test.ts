/**
 * The machine-stall witnesses of `engram bench loop`: the interval arithmetic, and real witness
 * processes that are all stopped at once (SIGSTOP, the nearest thing to the host descheduling the
 * machine that a test can cause), which must show up as one stall seen on every CPU.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { coveredNs, intersectIntervals, startStallWitness, unionIntervals } from '../../bench/lib/stall-witness.js';

const witness = suite('stall witness');

witness('intersects per-CPU stall lists and measures how much of a late wake they cover', () => {
  const cpu0: [number, number][] = [
    [0, 10],
    [20, 40],
    [50, 60],
  ];
  const cpu1: [number, number][] = [
    [5, 25],
    [30, 35],
    [38, 55],
  ];
  const both = intersectIntervals(cpu0, cpu1);
  assert.equal(both, [
    [5, 10],
    [20, 25],
    [30, 35],
    [38, 40],
    [50, 55],
  ]);
  assert.is(coveredNs(both, 0, 100), 5 + 5 + 5 + 2 + 5);
  assert.is(coveredNs(both, 22, 39), 3 + 5 + 1);
  assert.is(coveredNs(both, 41, 49), 0);
  assert.equal(intersectIntervals(cpu0, []), []);
  assert.equal(
    unionIntervals([
      [5, 10],
      [0, 3],
      [2, 4],
      [9, 12],
    ]),
    [
      [0, 4],
      [5, 12],
    ],
  );
});

witness('witnesses all stopped at once report one stall seen on every CPU', async () => {
  if (os.availableParallelism() < 2) {
    console.log('  skipped: one CPU (a machine-wide stall needs two witnesses to tell)');
    return;
  }
  const running = startStallWitness({ thresholdUs: 5000 });
  assert.ok(running.pids.length >= 2 && running.pids.every((pid) => pid > 0), `pids ${running.pids}`);
  await running.ready;
  for (const pid of running.pids) process.kill(pid, 'SIGSTOP');
  await sleep(60);
  for (const pid of running.pids) process.kill(pid, 'SIGCONT');
  await sleep(200);
  const report = await running.stop();
  assert.ok(report.available, report.reason);
  assert.ok(
    report.wakes.every((wakes) => wakes > 100),
    `wakes per witness ${report.wakes}`,
  );
  const long = report.machineStalls.filter(([start, end]) => end - start >= 40e6);
  assert.is(long.length, 1, `machine-wide stalls ${JSON.stringify(report.machineStalls)}`);
});

witness.run();
