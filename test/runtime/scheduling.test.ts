/**
 * SCHED_FIFO for the loop's threads only: with the native timekeeper, the main thread and the
 * ticker's thread get it and V8's / libuv's workers keep normal scheduling; the timer waiter needs
 * only the main thread; the worker waiter (thread id unknown) the whole process. Read back from
 * /proc, with real chrt calls (skipped, saying why, where SCHED_FIFO is not permitted).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { systemClock } from '../../runtime/clock.js';
import { CPU_LATENCY_DEVICE, holdCpuLatency, readCpuLatency, setRealtimeScheduling } from '../../runtime/scheduling.js';
import { createWaiter, loadNativeTicker, NativeWaiter } from '../../runtime/timing.js';

const scheduling = suite('real-time scheduling of the loop threads');

/** SCHED_OTHER 0, SCHED_FIFO 1: field 41 of /proc/<pid>/task/<tid>/stat. */
function policyOf(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[41 - 3]);
}

function threadIds(): number[] {
  return readdirSync(`/proc/${process.pid}/task`).map(Number);
}

const permitted = spawnSync('chrt', ['-f', '10', 'true']).status === 0;

scheduling('the native waiter: FIFO for the main and ticker threads, not for the other threads', async () => {
  const Ticker = loadNativeTicker();
  assert.ok(!(Ticker instanceof Error), 'make build builds native/timer');
  const waiter = new NativeWaiter(Ticker, () => {}, 0, 0);
  try {
    const threads = waiter.realtimeThreads();
    assert.is(threads.kind, 'threads');
    if (threads.kind !== 'threads') return;
    assert.is(threads.ids.length, 2);
    assert.is(threads.ids[0], process.pid);
    const ticker = threads.ids[1]!;
    assert.ok(ticker !== process.pid && threadIds().includes(ticker), `ticker thread ${ticker} is one of ours`);
    if (!permitted) {
      console.log('  skipped the chrt part: SCHED_FIFO is not permitted here');
      return;
    }
    assert.ok(setRealtimeScheduling(10, threads));
    try {
      const others = threadIds().filter((tid) => !threads.ids.includes(tid));
      assert.ok(others.length > 0, 'V8 and libuv have threads of their own');
      assert.is(policyOf(process.pid), 1);
      assert.is(policyOf(ticker), 1);
      for (const tid of others) assert.is(policyOf(tid), 0, `thread ${tid} stays under normal scheduling`);
    } finally {
      assert.ok(setRealtimeScheduling(0, threads));
    }
    for (const tid of threadIds()) assert.is(policyOf(tid), 0, `thread ${tid} back to normal`);
  } finally {
    await waiter.close();
  }
});

scheduling('the timer waiter needs only the main thread; the worker waiter, the whole process', async () => {
  const timing = { wakeLeadNs: 300_000, spinNs: 50_000 };
  const timer = createWaiter('timer', systemClock, () => {}, timing);
  const worker = createWaiter('worker', systemClock, () => {}, timing);
  try {
    assert.equal(timer.realtimeThreads(), { kind: 'threads', ids: [process.pid] });
    assert.equal(worker.realtimeThreads(), { kind: 'process' });
  } finally {
    await timer.close();
    await worker.close();
  }
});

scheduling.run();

const cpuLatency = suite('CPU wake-up latency held through /dev/cpu_dma_latency');

cpuLatency('a held request is what the kernel honours until it is released', () => {
  const before = readCpuLatency();
  const held = holdCpuLatency(7);
  if (before instanceof Error || held instanceof Error) {
    console.log(`  skipped: ${before instanceof Error ? before.message : (held as Error).message}`);
    return;
  }
  try {
    // the kernel honours the least of all requests held (another process may hold one below 7)
    assert.is(readCpuLatency(), Math.min(before, 7));
    assert.is(held.us, 7);
  } finally {
    held.release();
  }
  held.release(); // a second release is harmless
  assert.is(readCpuLatency(), before);
});

cpuLatency('refusals name the device and the reason, and hold nothing', () => {
  const missing = '/nonexistent/cpu_dma_latency';
  const refused = holdCpuLatency(0, missing);
  assert.instance(refused, Error);
  assert.match(
    (refused as Error).message,
    /cannot hold CPU wake-up latency at 0 µs: ENOENT.*\/nonexistent\/cpu_dma_latency/,
  );
  assert.instance(readCpuLatency(missing), Error);
  for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) {
    const result = holdCpuLatency(bad, CPU_LATENCY_DEVICE);
    assert.instance(result, Error);
    assert.match((result as Error).message, /integer number of µs/);
  }
});

cpuLatency.run();
