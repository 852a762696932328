/** Config validation: every shipped config loads; a table of bad configs and the exact message each gets. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import {
  ConfigError,
  loadRuntimeConfig,
  observationSize,
  parseRuntimeConfigText,
  recordingOf,
  staleAfterNs,
} from '../../runtime/config.js';

const configsDir = new URL('../../configs/', import.meta.url).pathname;

function good(): Record<string, unknown> {
  return {
    name: 'test',
    rateHz: 100,
    budget: { cycleMs: 8, stages: { ingest: 0.5, encode: 1, lookup: 2, plan: 4, publish: 0.5 } },
    channels: [
      { name: 'position', size: 3 },
      { name: 'velocity', size: 2, maxAgeMs: 30 },
    ],
    action: { size: 1, low: [-1], high: [1], safe: [0], maxSlewPerSecond: 10 },
    safety: { staleAfterMs: 50, overrunPolicy: 'hold' },
    driver: { kind: 'sim', task: 'pendulum_swingup' },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the table edits arbitrary keys of a config literal, bad ones included
type LooseConfig = Record<string, any>;

/** A fresh good() with `edit` applied, as YAML. */
function bad(edit: (config: LooseConfig) => void): string {
  const config = good() as LooseConfig;
  edit(config);
  return stringify(config);
}

function messageOf(text: string, file = 'configs/robot.yaml'): string {
  try {
    parseRuntimeConfigText(text, file);
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('every config in configs/ loads', () => {
  const files = readdirSync(configsDir).filter((f) => f.endsWith('.yaml'));
  for (const task of ['pendulum_swingup', 'cartpole_swingup', 'cartpole_balance', 'point_mass_easy', 'reacher_easy']) {
    assert.ok(files.includes(`${task}.yaml`), `configs/${task}.yaml exists`);
  }
  const kinds = new Set<string>();
  for (const file of files) {
    const config = loadRuntimeConfig(join(configsDir, file));
    kinds.add(config.driver.kind);
    assert.ok(config.budget.cycleMs <= 1000 / config.rateHz, file);
  }
  assert.equal([...kinds].sort(), ['ros2', 'sim', 'zmq']);
});

test('defaults fill in and derived sizes follow the channels', () => {
  const config = parseRuntimeConfigText(stringify(good()));
  assert.is(observationSize(config), 5);
  assert.is(config.metrics.host, '127.0.0.1');
  assert.is(config.metrics.enabled, false);
  assert.is(config.brain.memory.capacity, 100_000);
  assert.is(config.timing.strategy, 'native');
  assert.is(config.timing.cpuLatencyUs, undefined, 'power management is left alone unless asked');
  assert.is(staleAfterNs(config), 30e6, 'the tightest channel maxAgeMs tightens safety.staleAfterMs');
  assert.is(config.recording, undefined);
  assert.is(config.snapshot, undefined);
});

test('snapshot and recording sections: defaults, and recording on by default for a sim driver', () => {
  const sim = parseRuntimeConfigText(stringify({ ...good(), snapshot: { path: 'memory/snapshot.bin' } }));
  assert.equal(sim.snapshot, {
    path: 'memory/snapshot.bin',
    everySeconds: 60,
    loadOnStart: true,
    saveOnExit: true,
    onMissing: 'start-empty',
    onUnusable: 'fail',
  });
  assert.equal(recordingOf(sim), {
    path: 'runs/recordings',
    ringCycles: 4096,
    maxSegmentMiB: 64,
    maxSegments: 16,
    retryAfterMs: 5000,
  });
  const off = parseRuntimeConfigText(stringify({ ...good(), recording: { enabled: false } }));
  assert.is(recordingOf(off), undefined, 'enabled: false turns the sim default off');
  const robot = { ...good(), driver: { kind: 'zmq', frames: 'tcp://127.0.0.1:5555', actions: 'tcp://127.0.0.1:5556' } };
  assert.is(recordingOf(parseRuntimeConfigText(stringify(robot))), undefined, 'a robot records only when asked');
  const asked = parseRuntimeConfigText(stringify({ ...robot, recording: { path: '/data/rec', maxSegments: 4 } }));
  assert.is(recordingOf(asked)?.path, '/data/rec');
  assert.is(recordingOf(asked)?.maxSegments, 4);
});

const table: [string, string, string][] = [
  ['unknown top-level key', bad((c) => (c.rateHZ = 100)), 'configs/robot.yaml: rateHZ: unknown key'],
  [
    'unknown nested key',
    bad((c) => (c.budget.stages.planning = 1)),
    'configs/robot.yaml: budget.stages.planning: unknown key',
  ],
  ['wrong type', bad((c) => (c.rateHz = 'fast')), 'configs/robot.yaml: rateHz: expected number, received string'],
  ['missing section', bad((c) => delete c.safety), 'configs/robot.yaml: safety: missing (expected object)'],
  [
    'missing stage budget',
    bad((c) => delete c.budget.stages.plan),
    'configs/robot.yaml: budget.stages.plan: missing (expected number)',
  ],
  ['negative rate', bad((c) => (c.rateHz = -5)), 'configs/robot.yaml: rateHz: Too small: expected number to be >0'],
  [
    'fractional CPU latency',
    bad((c) => (c.timing = { cpuLatencyUs: 0.5 })),
    'configs/robot.yaml: timing.cpuLatencyUs: expected int, received number',
  ],
  [
    'budget longer than the period',
    bad((c) => (c.budget.cycleMs = 12)),
    'configs/robot.yaml: budget.cycleMs: must fit in one period: at most 10 ms at 100 Hz, got 12',
  ],
  [
    'stage budgets over the cycle budget',
    bad((c) => (c.budget.stages.plan = 7)),
    'configs/robot.yaml: budget.stages: stage budgets sum to 11 ms, more than budget.cycleMs (8)',
  ],
  [
    'action limits of the wrong length',
    bad((c) => (c.action.high = [1, 1])),
    'configs/robot.yaml: action.high: expected 1 values (action.size), got 2',
  ],
  [
    'safe action outside the limits',
    bad((c) => (c.action.safe = [2])),
    'configs/robot.yaml: action.safe[0]: must lie within [-1, 1] (action.low/high)',
  ],
  [
    'low above high',
    bad((c) => (c.action.low = [3])),
    'configs/robot.yaml: action.low[0]: must be <= action.high[0] (1)',
  ],
  [
    'non-numeric limit',
    bad((c) => (c.action.low = ['a'])),
    'configs/robot.yaml: action.low[0]: expected number, received string',
  ],
  [
    'unknown overrun policy',
    bad((c) => (c.safety.overrunPolicy = 'ignore')),
    'configs/robot.yaml: safety.overrunPolicy: expected one of "hold"|"safe"',
  ],
  [
    'unknown driver kind',
    bad((c) => (c.driver = { kind: 'serial' })),
    'configs/robot.yaml: driver.kind: expected one of sim, zmq, ros2',
  ],
  ['unknown key inside the driver', bad((c) => (c.driver.port = 5)), 'configs/robot.yaml: driver.port: unknown key'],
  [
    'unknown key inside the brain section',
    bad((c) => (c.brain = { memory: { capacty: 10 } })),
    'configs/robot.yaml: brain.memory.capacty: unknown key',
  ],
  [
    'duplicate channel',
    bad((c) => c.channels.push({ name: 'position', size: 1 })),
    "configs/robot.yaml: channels[2].name: duplicate channel 'position'",
  ],
  [
    'ros2 input naming no channel',
    bad(
      (c) =>
        (c.driver = {
          kind: 'ros2',
          inputs: [{ channel: 'lidar', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' }],
          output: { topic: '/cmd_vel', type: 'geometry_msgs/msg/Twist' },
        }),
    ),
    'configs/robot.yaml: driver.inputs[0].channel: names no channel; expected one of position, velocity',
  ],
  [
    'metrics port out of range',
    bad((c) => (c.metrics = { enabled: true, port: 70000 })),
    'configs/robot.yaml: metrics.port: Too big: expected number to be <=65535',
  ],
  [
    'YAML syntax error',
    'name: a\nrateHz: [100\n',
    'configs/robot.yaml: line 3: YAML Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  ['duplicate YAML key', 'name: a\nname: b\n', 'configs/robot.yaml: line 2: YAML Map keys must be unique'],
  [
    'unknown snapshot onMissing policy',
    bad((c) => (c.snapshot = { path: 's.bin', onMissing: 'ignore' })),
    'configs/robot.yaml: snapshot.onMissing: expected one of "start-empty"|"fail"',
  ],
  [
    'unknown snapshot onUnusable policy',
    bad((c) => (c.snapshot = { path: 's.bin', onUnusable: 'empty' })),
    'configs/robot.yaml: snapshot.onUnusable: expected one of "fail"|"start-empty"',
  ],
  [
    'snapshot without a path',
    bad((c) => (c.snapshot = { everySeconds: 10 })),
    'configs/robot.yaml: snapshot.path: missing (expected string)',
  ],
  [
    'zero recording segment size',
    bad((c) => (c.recording = { maxSegmentMiB: 0 })),
    'configs/robot.yaml: recording.maxSegmentMiB: Too small: expected number to be >0',
  ],
  [
    'fractional recording ring',
    bad((c) => (c.recording = { ringCycles: 10.5 })),
    'configs/robot.yaml: recording.ringCycles: expected int, received number',
  ],
  [
    'unknown recording key',
    bad((c) => (c.recording = { segments: 3 })),
    'configs/robot.yaml: recording.segments: unknown key',
  ],
];

for (const [what, text, expected] of table) {
  test(`bad config: ${what}`, () => {
    assert.is(messageOf(text), expected);
  });
}

test('several problems are all listed, one per line', () => {
  const message = messageOf(
    bad((c) => {
      c.rateHz = 'x';
      c.extra = 1;
    }),
  );
  assert.is(message, 'configs/robot.yaml: \n  rateHz: expected number, received string\n  extra: unknown key');
});

test('a missing file is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-config-'));
  const path = join(dir, 'nope.yaml');
  assert.throws(
    () => loadRuntimeConfig(path),
    (error: Error) => error.message.startsWith(`${path}: cannot read:`),
  );
  writeFileSync(join(dir, 'ok.yaml'), stringify(good()));
  assert.is(loadRuntimeConfig(join(dir, 'ok.yaml')).name, 'test');
});

test.run();
