/**
 * The fault and context-switch counts `engram bench loop` reports: touching fresh memory must show
 * as minor faults, and a thread that spins while another thread of equal standing wants its CPU must
 * show involuntary switches on the main thread.
 */
import { Worker } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { faultsSince, readFaultCounts } from '../../bench/lib/faults.js';

const faults = suite('fault counts');

faults('touching fresh pages counts minor faults and no major ones', () => {
  const before = readFaultCounts();
  // 64 MiB from the OS, one write per 4 KiB page: each first write is a minor fault (fewer with
  // transparent huge pages, but never none)
  const pages = new Uint8Array(64 * 1024 * 1024);
  for (let i = 0; i < pages.length; i += 4096) pages[i] = 1;
  const grown = faultsSince(before);
  assert.ok(grown.minorPageFaults > 0, `minor faults ${grown.minorPageFaults}`);
  assert.is(grown.majorPageFaults, 0);
});

faults('a main thread that keeps its CPU busy against other busy threads is switched out involuntarily', async () => {
  const before = readFaultCounts();
  assert.ok(Number.isFinite(before.mainThreadInvoluntarySwitches), 'reads /proc/self/task/<pid>/status');
  // more spinning threads than CPUs: the scheduler must take the CPU from the main thread at times
  const spinners = Array.from(
    { length: 4 },
    () => new Worker('const end = Date.now() + 1500; while (Date.now() < end) {}', { eval: true }),
  );
  const end = Date.now() + 1000;
  while (Date.now() < end) {}
  await Promise.all(spinners.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
  const grown = faultsSince(before);
  assert.ok(grown.mainThreadInvoluntarySwitches > 0, `main thread switches ${grown.mainThreadInvoluntarySwitches}`);
  assert.ok(grown.involuntarySwitches >= grown.mainThreadInvoluntarySwitches);
});

faults.run();
