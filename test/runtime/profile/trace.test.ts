import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProfileData } from '../../../runtime/profile/recorder.js';
import { cycleStages, stageNames } from '../../../runtime/profile/stages.js';
import { traceTracks, writeTrace } from '../../../runtime/profile/trace.js';
import { runHarnessSession } from './harness.js';

interface TraceEvent {
  ph: string;
  pid: number;
  tid: number;
  name: string;
  ts?: number;
  dur?: number;
  s?: string;
  args?: Record<string, unknown>;
}

const trace = suite('trace.json (Chrome trace event format)');
let data: ProfileData;
let events: TraceEvent[];
let document: { traceEvents: TraceEvent[]; displayTimeUnit?: string; metadata?: Record<string, unknown> };
const dir = mkdtempSync(join(tmpdir(), 'engram-trace-'));

trace.before(async () => {
  ({ data } = await runHarnessSession({ rateHz: 200, durationMs: 800, stageWorkUs: 100, forceGcEvery: 15 }));
  const path = join(dir, 'trace.json');
  writeTrace(data, path);
  document = JSON.parse(readFileSync(path, 'utf8'));
  events = document.traceEvents;
});
trace.after(() => rmSync(dir, { recursive: true, force: true }));

trace('is a JSON object with traceEvents, and every event is well formed', () => {
  assert.ok(Array.isArray(events) && events.length > 0);
  assert.ok(document.displayTimeUnit === 'ms' || document.displayTimeUnit === 'ns');
  const phases = new Set(['X', 'i', 'C', 'M']);
  for (const event of events) {
    assert.ok(phases.has(event.ph), `unknown phase ${event.ph}`);
    assert.ok(Number.isInteger(event.pid) && Number.isInteger(event.tid), 'pid/tid');
    assert.type(event.name, 'string');
    if (event.ph === 'M') continue;
    assert.ok(typeof event.ts === 'number' && Number.isFinite(event.ts) && event.ts >= -1000, `ts ${event.ts}`);
    if (event.ph === 'X') assert.ok(typeof event.dur === 'number' && event.dur >= 0, `dur ${event.dur}`);
    if (event.ph === 'i') assert.ok(event.s === 't' || event.s === 'p' || event.s === 'g');
    if (event.ph === 'C') {
      const values = Object.values(event.args ?? {});
      assert.ok(values.length > 0 && values.every((v) => typeof v === 'number' && Number.isFinite(v)), event.name);
    }
  }
});

trace('names one track for cycles, one per stage, and one for GC', () => {
  const names = new Map<number, string>();
  for (const event of events) {
    if (event.ph === 'M' && event.name === 'thread_name') names.set(event.tid, String(event.args?.name));
  }
  assert.is(names.get(traceTracks.cycles), 'cycles');
  stageNames.forEach((stage, index) => {
    assert.is(names.get(traceTracks.firstStage + index), `stage: ${stage}`);
  });
  assert.is(names.get(traceTracks.gc), 'gc');
});

trace('has one cycle slice per recorded cycle, with its stages inside it', () => {
  const cycles = events.filter((e) => e.ph === 'X' && e.tid === traceTracks.cycles);
  assert.is(cycles.length, data.cycles.count);
  const stageSlices = events.filter(
    (e) => e.ph === 'X' && e.tid >= traceTracks.firstStage && e.tid < traceTracks.firstStage + cycleStages.length,
  );
  assert.ok(stageSlices.length >= data.cycles.count * 4, `${stageSlices.length} stage slices`);
  // Stage slices lie within their cycle's slice (ts in µs, rounded to the ns).
  let c = 0;
  for (const slice of stageSlices.sort((a, b) => a.ts! - b.ts!)) {
    while (c + 1 < cycles.length && cycles[c + 1]!.ts! <= slice.ts!) c++;
    const cycle = cycles[c]!;
    assert.ok(slice.ts! >= cycle.ts! - 0.002, `${slice.name} starts before its cycle`);
    assert.ok(slice.ts! + slice.dur! <= cycle.ts! + cycle.dur! + 0.002, `${slice.name} ends after its cycle`);
  }
});

trace('has GC instant events and memory and lateness counters', () => {
  const gcs = events.filter((e) => e.ph === 'i' && e.tid === traceTracks.gc);
  assert.is(gcs.length, data.gc.count);
  assert.ok(
    gcs.some((e) => e.args?.forced === true && e.args?.kind === 'major'),
    'a forced major GC',
  );
  const counters = new Set(events.filter((e) => e.ph === 'C').map((e) => e.name));
  assert.ok(counters.has('heap (MiB)') && counters.has('RSS (MiB)'), 'memory counters');
  assert.ok(counters.has('lateness (µs)'), 'lateness counter');
  const lateness = events.filter((e) => e.ph === 'C' && e.name === 'lateness (µs)');
  assert.is(lateness.length, data.cycles.count);
});

trace.run();
