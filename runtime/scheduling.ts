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
