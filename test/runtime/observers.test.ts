/** Metrics, status and shutdown on a MockClock-driven loop: counted, rate-limited, fed from slack. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MockClock } from '../../runtime/clock.js';
import { type Logger, silentLogger } from '../../runtime/log.js';
import { Loop } from '../../runtime/loop.js';
import { LoopMetrics, serveMetrics } from '../../runtime/metrics.js';
import { actionLimits, SafetyFilter } from '../../runtime/safety.js';
import { onShutdownSignals } from '../../runtime/shutdown.js';
import { formatStatus, LoopStatus } from '../../runtime/status.js';
import { MS, settings, TestController, TestDriver } from './loop-fixtures.js';

const PERIOD = 10 * MS;

function build() {
  const clock = new MockClock(0);
  const driver = new TestDriver(clock);
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  const controller = new TestController(clock, 3, 2);
  const safety = new SafetyFilter(
    actionLimits({ size: 2, low: [-1, -1], high: [1, 1], safe: [0, 0], maxSlewPerSecond: 0 }),
    50 * MS,
  );
  return { clock, driver, controller, safety };
}

/** A logger that keeps what it was asked to log. */
function recordingLogger(): { logger: Logger; lines: { level: string; details: object; message: string }[] } {
  const lines: { level: string; details: object; message: string }[] = [];
  const base = silentLogger();
  const logger = Object.create(base) as Logger;
  for (const level of ['info', 'warn', 'error'] as const) {
    (logger as unknown as Record<string, unknown>)[level] = (details: object, message: string) =>
      lines.push({ level, details, message });
  }
  return { logger, lines };
}

test('metrics: histograms and counters follow the cycles, exported from slack', async () => {
  const { clock, driver, controller, safety } = build();
  const observers: LoopMetrics[] = [];
  const loop = new Loop(clock, driver, controller, safety, settings(), observers);
  const metrics = new LoopMetrics(loop, clock, { experiences: () => 42, evictions: () => 7 }, 0);
  observers.push(metrics);
  loop.start(0);
  for (let k = 0; k < 5; k++) {
    controller.stepNs = k === 3 ? 9 * MS : 1 * MS; // cycle 3 overruns
    clock.set(k * PERIOD);
    loop.runCycle();
    loop.runSlack(clock.peek() + 1 * MS);
  }
  const text = await metrics.text();
  assert.match(text, /engram_cycles_total 5/);
  assert.match(text, /engram_overruns_total 1/);
  assert.match(text, /engram_cycle_seconds_count 5/);
  assert.match(text, /engram_stage_seconds_count\{stage="plan"\} 5/);
  assert.match(text, /engram_memory_experiences 42/);
  assert.match(text, /engram_evictions_total 7/);
  assert.match(text, /engram_stage_budget_seconds\{stage="plan"\} 0.004/);
  assert.match(text, /engram_heap_used_bytes \d+/);
  metrics.close();
});

test('metrics endpoint binds to loopback and serves /metrics', async () => {
  const { clock, driver, controller, safety } = build();
  const loop = new Loop(clock, driver, controller, safety, settings());
  const metrics = new LoopMetrics(loop, clock, undefined, 0);
  const { server, url } = await serveMetrics(metrics, '127.0.0.1', 0);
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(url);
    assert.is(response.status, 200);
    assert.match(await response.text(), /engram_overruns_total 0/);
    assert.is((await fetch(url.replace('/metrics', '/other'))).status, 404);
  } finally {
    metrics.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('status: one line per interval with rate, p99s and counters; overruns summarised, not per event', () => {
  const { clock, driver, controller, safety } = build();
  const { logger, lines } = recordingLogger();
  const observers: LoopStatus[] = [];
  const loop = new Loop(clock, driver, controller, safety, settings(), observers);
  const status = new LoopStatus(
    loop,
    clock,
    logger,
    { experiences: () => 10, evictions: () => 0 },
    {
      intervalNs: 1e9,
      summaryIntervalNs: 5e9,
    },
  );
  observers.push(status);
  loop.start(0);
  for (let k = 0; k < 700; k++) {
    controller.stepNs = k % 10 === 0 ? 9 * MS : 2 * MS; // every tenth cycle overruns
    clock.set(k * PERIOD);
    loop.runCycle();
    loop.runSlack(clock.peek() + 1 * MS);
  }
  const statusLines = lines.filter((line) => line.message === 'status');
  assert.ok(statusLines.length >= 5 && statusLines.length <= 6, `${statusLines.length} status lines over 7 s`);
  const last = statusLines.at(-1)!.details as Record<string, number>;
  assert.ok(Math.abs(last.rateHz! - 100) < 1, `rate ${last.rateHz}`);
  assert.is(last.stepP99Us, 9000);
  assert.is(last.experiences, 10);
  const overrunLines = lines.filter((line) => line.message === 'cycle overruns');
  assert.is(overrunLines.length, 1, '70 overruns in 7 s: one summary line per 5 s interval');
  const first = (overrunLines[0]!.details as { count: number }).count;
  assert.ok(first >= 45 && first <= 55, `the 5 s summary counts ${first}`);
  status.close();
  const afterClose = lines.filter((line) => line.message === 'cycle overruns');
  assert.is((afterClose.at(-1)!.details as { total: number }).total, 70, 'close flushes what is pending');
  assert.match(formatStatus(status.update(clock.peek())), /overruns 70 /);
});

test('shutdown: the first signal asks to stop, the second exits at once', () => {
  const events: string[] = [];
  const handle = onShutdownSignals(
    (signal) => events.push(`stop ${signal}`),
    (signal) => events.push(`exit ${signal}`),
    ['SIGUSR2'],
  );
  process.emit('SIGUSR2', 'SIGUSR2');
  assert.equal(events, ['stop SIGUSR2']);
  assert.is(handle.signal, 'SIGUSR2');
  process.emit('SIGUSR2', 'SIGUSR2');
  assert.equal(events, ['stop SIGUSR2', 'exit SIGUSR2']);
  handle.dispose();
  assert.is(process.listenerCount('SIGUSR2'), 0);
});

test.run();
