/**
 * SCHED_FIFO for the loop's threads, through chrt (util-linux).
 *
 * Only the threads that keep the loop's time get it: the main thread (the cycle) and the native
 * timekeeper's thread. V8's platform workers (concurrent GC marking, the optimising compiler) and
 * libuv's pool stay under normal scheduling: at the loop's FIFO priority they would run unpreempted
 * and, with two cores, could hold both for the length of a GC phase or a compile. (Side by side with
 * FIFO for every thread, `engram bench loop` measured no difference on this machine: docs/runtime.md.)
 * A waiter whose thread id is unknown (the worker thread) leaves no choice but the whole process.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';

/** Which threads get the priority: these Linux thread ids, or every thread of the process. */
export type RealtimeThreads = { kind: 'threads'; ids: readonly number[] } | { kind: 'process' };

/** Every thread of the process. */
export const WHOLE_PROCESS: RealtimeThreads = { kind: 'process' };

/** The main thread (its thread id is the process id) and the timekeeper's thread, if it has its own. */
export function loopThreads(timekeeperThreadId?: number): RealtimeThreads {
  return { kind: 'threads', ids: timekeeperThreadId === undefined ? [process.pid] : [process.pid, timekeeperThreadId] };
}

/**
 * SCHED_FIFO at `priority` for `threads` (priority 0: back to normal scheduling). Threads created
 * later by a FIFO thread inherit FIFO. Returns false when not permitted (or chrt is missing).
 */
export function setRealtimeScheduling(priority: number, threads: RealtimeThreads): boolean {
  const policy = priority > 0 ? ['-f', '-p', String(priority)] : ['-o', '-p', '0'];
  if (threads.kind === 'process') {
    return spawnSync('chrt', ['-a', ...policy, String(process.pid)], { stdio: 'ignore' }).status === 0;
  }
  let ok = true;
  for (const id of threads.ids) {
    ok = spawnSync('chrt', [...policy, String(id)], { stdio: 'ignore' }).status === 0 && ok;
  }
  return ok;
}

/**
 * Linux's PM QoS request for CPU wake-up latency. While a process holds this device open with a
 * value written to it, no CPU enters an idle state that takes longer than that many µs to leave; 0
 * keeps idle CPUs polling. An idle CPU that halts must be woken by an interrupt, and on a virtual
 * machine that goes through the hypervisor: tens of µs added to every wake-up of the loop, of the
 * driver's I/O threads and of the robot-side process (docs/runtime.md measures it). cyclictest
 * holds 0 by default while it runs, so without this the reference is measured with an advantage the
 * loop does not have. The cost: idle CPUs spin (power, and on a VM the host sees them busy).
 */
export const CPU_LATENCY_DEVICE = '/dev/cpu_dma_latency';

/** A held latency request; the kernel drops it when the device is closed (or the process dies). */
export interface CpuLatencyHold {
  readonly us: number;
  release(): void;
}

/** Holds `us` µs on `device` until release(); an Error saying why when it cannot (needs root, Linux). */
export function holdCpuLatency(us: number, device = CPU_LATENCY_DEVICE): CpuLatencyHold | Error {
  if (!Number.isInteger(us) || us < 0 || us > 0x7fffffff) {
    return new Error(`CPU wake-up latency must be an integer number of µs in [0, 2^31), got ${us}`);
  }
  let fd: number;
  try {
    fd = openSync(device, constants.O_WRONLY);
  } catch (error) {
    return new Error(`cannot hold CPU wake-up latency at ${us} µs: ${(error as Error).message}`);
  }
  try {
    // the device takes a 32-bit integer in the machine's byte order
    if (writeSync(fd, new Int32Array([us])) !== 4) throw new Error('short write');
  } catch (error) {
    closeSync(fd);
    return new Error(`cannot hold CPU wake-up latency at ${us} µs: ${device}: ${(error as Error).message}`);
  }
  let held = true;
  return {
    us,
    release(): void {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

/** The latency every CPU currently honours (the least of all requests held), µs; an Error if unreadable. */
export function readCpuLatency(device = CPU_LATENCY_DEVICE): number | Error {
  let fd: number;
  try {
    fd = openSync(device, constants.O_RDONLY);
  } catch (error) {
    return new Error(`cannot read ${device}: ${(error as Error).message}`);
  }
  try {
    const value = new Int32Array(1);
    if (readSync(fd, value) !== 4) return new Error(`${device}: short read`);
    return value[0]!;
  } finally {
    closeSync(fd);
  }
}
