/**
 * trace.json in the Chrome trace event format (JSON object form), which the Perfetto UI and
 * chrome://tracing open. One process "engram"; tracks (threads): cycles, one per stage, gc.
 * Stages carry durations, not start times: they are laid end to end from the cycle's wake in
 * execution order, and maintenance starts where the cycle ends (after publish). Times are µs from
 * the session start. Written in chunks so a long session never builds one giant string.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { gcForcedFlag, gcKindName } from './gc.js';
import type { ProfileData } from './recorder.js';
import { cycleStages, lookupPathNames, stageNames } from './stages.js';

const pid = 1;
export const traceTracks = {
  cycles: 1,
  /** stage i is on thread 10 + i */
  firstStage: 10,
  gc: 30,
} as const;

/** Buffered writer: appends strings, writes to the file in ~1 MiB pieces. */
class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  push(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.drain();
  }
  drain(): void {
    if (this.parts.length === 0) return;
    writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/** µs with ns precision, as a short decimal. */
function us(ns: number): number {
  return Math.round(ns) / 1000;
}

export function writeTrace(data: ProfileData, path: string): void {
  const fd = openSync(path, 'w');
  try {
    const out = new ChunkedWriter(fd);
    let first = true;
    const emit = (event: object) => {
      out.push(first ? `\n${JSON.stringify(event)}` : `,\n${JSON.stringify(event)}`);
      first = false;
    };
    const { meta, cycles, gc } = data;
    const t0 = meta.startNs;
    out.push('{"displayTimeUnit":"ms","traceEvents":[');

    emit({ ph: 'M', pid, tid: 0, name: 'process_name', args: { name: `engram: ${meta.label}` } });
    const nameTrack = (tid: number, name: string) => {
      emit({ ph: 'M', pid, tid, name: 'thread_name', args: { name } });
      emit({ ph: 'M', pid, tid, name: 'thread_sort_index', args: { sort_index: tid } });
    };
    nameTrack(traceTracks.cycles, 'cycles');
    for (let s = 0; s < stageNames.length; s++) nameTrack(traceTracks.firstStage + s, `stage: ${stageNames[s]}`);
    nameTrack(traceTracks.gc, 'gc');

    for (let i = 0; i < cycles.count; i++) {
      const woke = cycles.wokeNs[i]!;
      const total = cycles.cycleNs[i]!;
      emit({
        ph: 'X',
        pid,
        tid: traceTracks.cycles,
        name: cycles.overrun[i] ? 'cycle (overrun)' : 'cycle',
        ts: us(woke - t0),
        dur: us(total),
        args: {
          cycle: cycles.cycle[i],
          latenessUs: us(cycles.latenessNs[i]!),
          skippedTicks: cycles.skippedTicks[i],
          lookupPath: lookupPathNames[cycles.lookupPath[i]!] ?? cycles.lookupPath[i],
          effortLevel: cycles.effortLevel[i],
          stepStatus: cycles.stepStatus[i],
          frameSeq: cycles.frameSeq[i],
        },
      });
      let at = woke;
      for (let s = 0; s < cycleStages.length; s++) {
        const stage = cycleStages[s]!;
        const dur = cycles.stages[stage][i]!;
        if (dur > 0)
          emit({ ph: 'X', pid, tid: traceTracks.firstStage + s, name: stage, ts: us(at - t0), dur: us(dur) });
        at += dur;
      }
      const maintenance = cycles.stages.maintenance[i]!;
      if (maintenance > 0) {
        emit({
          ph: 'X',
          pid,
          tid: traceTracks.firstStage + cycleStages.length,
          name: 'maintenance',
          ts: us(woke + total - t0),
          dur: us(maintenance),
        });
      }
      emit({
        ph: 'C',
        pid,
        tid: 0,
        name: 'lateness (µs)',
        ts: us(woke - t0),
        args: { lateness: us(cycles.latenessNs[i]!) },
      });
    }

    for (let g = 0; g < gc.count; g++) {
      const kind = gcKindName(gc.kind[g]!);
      emit({
        ph: 'i',
        s: 't',
        pid,
        tid: traceTracks.gc,
        name: `GC ${kind}`,
        ts: us(gc.startNs[g]! - t0),
        args: { kind, durationMs: gc.durationNs[g]! / 1e6, forced: (gc.flags[g]! & gcForcedFlag) !== 0 },
      });
    }

    const heap = data.heap;
    for (let s = 0; s < heap.count; s++) {
      const ts = us(heap.tNs[s]! - t0);
      emit({
        ph: 'C',
        pid,
        tid: 0,
        name: 'heap (MiB)',
        ts,
        args: { used: heap.heapUsedBytes[s]! / 2 ** 20, total: heap.heapTotalBytes[s]! / 2 ** 20 },
      });
    }
    const machine = data.machine;
    for (let s = 0; s < machine.count; s++) {
      const ts = us(machine.tNs[s]! - t0);
      emit({ ph: 'C', pid, tid: 0, name: 'RSS (MiB)', ts, args: { rss: machine.rssBytes[s]! / 2 ** 20 } });
      emit({ ph: 'C', pid, tid: 0, name: 'machine CPU (%)', ts, args: { load: machine.cpuLoadPercent[s] } });
      emit({
        ph: 'C',
        pid,
        tid: 0,
        name: 'machine memory used (MiB)',
        ts,
        args: { used: machine.memUsedBytes[s]! / 2 ** 20 },
      });
    }

    out.push(`\n],"metadata":${JSON.stringify({ 'engram-profile': meta, host: data.host })}}\n`);
    out.drain();
  } finally {
    closeSync(fd);
  }
}
