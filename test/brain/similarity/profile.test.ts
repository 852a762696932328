/**
 * Hardware profiles: strict validation with clear errors, the shipped profiles parse, and 'auto'
 * picks the most specific profile matching the host (else default), logging which and why.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  defaultProfilesDir,
  loadProfileFile,
  parseProfile,
  profileToYaml,
  selectProfile,
  singleQueryCrossover,
} from '../../../brain/similarity/profile.js';
import type { EventLog } from '../../../runtime/contracts.js';

function recordingLog() {
  const lines: { message: string; details: Record<string, unknown> }[] = [];
  const log: EventLog = {
    info: (details, message) => lines.push({ message, details: details as Record<string, unknown> }),
    warn: (details, message) => lines.push({ message, details: details as Record<string, unknown> }),
    error: (details, message) => lines.push({ message, details: details as Record<string, unknown> }),
  };
  return { log, lines };
}

test('every shipped profile parses, and default routes single queries to HNSW above its edge', () => {
  const files = readdirSync(defaultProfilesDir()).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.includes('default.yaml'));
  for (const file of files) loadProfileFile(join(defaultProfilesDir(), file));
  const fallback = loadProfileFile(join(defaultProfilesDir(), 'default.yaml'));
  assert.is(singleQueryCrossover(fallback), 1000);
});

test('bad profiles fail with the field named', () => {
  const bad: [string, RegExp][] = [
    ['name: x\nroutes: []', /routes/],
    ['name: x\nroutes:\n  - minBatch: 2\n    bands: [{path: linear}]', /minBatch 1/],
    [
      'name: x\nroutes:\n  - minBatch: 1\n    bands: [{path: linear, belowN: 10}, {path: hnsw, belowN: 5}]',
      /last band|increase/,
    ],
    ['name: x\nroutes:\n  - minBatch: 1\n    bands: [{path: gpu}]', /path/],
    ['name: x\nroutes:\n  - minBatch: 1\n    bands: [{path: tensor}]', /single queries/],
    ['name: x\nhysteresis: 2\nroutes:\n  - minBatch: 1\n    bands: [{path: linear}]', /hysteresis/],
    ['name: x\nsurprise: 1\nroutes:\n  - minBatch: 1\n    bands: [{path: linear}]', /surprise|unrecognized/i],
    ['name: [unclosed', /YAML|invalid/],
    ['name: ../etc\nroutes:\n  - minBatch: 1\n    bands: [{path: linear}]', /name/],
  ];
  for (const [text, pattern] of bad) {
    assert.throws(() => parseProfile(text, 'inline'), pattern, text);
  }
});

test('a profile survives a YAML round trip', () => {
  const profile = parseProfile(
    'name: rt\nhysteresis: 0.1\nmatch: {cores: 3}\nroutes:\n  - minBatch: 1\n    bands: [{path: linear, belowN: 900}, {path: hnsw}]\n  - minBatch: 32\n    bands: [{path: linear, belowN: 400}, {path: tensor, belowN: 9000}, {path: hnsw}]\n',
    'inline',
  );
  assert.equal(parseProfile(profileToYaml(profile), 'round trip'), profile);
});

test("'auto' picks the most specific matching profile, else default, and logs why", () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-profiles-'));
  const routes = 'routes:\n  - minBatch: 1\n    bands: [{path: linear}]\n';
  writeFileSync(join(dir, 'default.yaml'), `name: default\n${routes}`);
  writeFileSync(join(dir, 'two-core.yaml'), `name: two-core\nmatch: {cores: 2}\n${routes}`);
  writeFileSync(join(dir, 'epyc-2.yaml'), `name: epyc-2\nmatch: {cpuModelIncludes: epyc, cores: 2}\n${routes}`);
  writeFileSync(join(dir, 'broken.yaml'), 'name: broken\n');
  const { log, lines } = recordingLog();
  assert.is(selectProfile('auto', log, { dir, host: { cpuModel: 'AMD EPYC 7B13', cores: 2 } }).name, 'epyc-2');
  assert.is(selectProfile('auto', log, { dir, host: { cpuModel: 'Intel Xeon', cores: 2 } }).name, 'two-core');
  assert.is(selectProfile('auto', log, { dir, host: { cpuModel: 'Intel Xeon', cores: 8 } }).name, 'default');
  assert.is(selectProfile('two-core', log, { dir }).name, 'two-core');
  const chosen = lines.filter((l) => l.message === 'similarity profile selected').map((l) => l.details.reason);
  assert.equal(chosen, ['matches the host', 'matches the host', 'no profile matches the host', 'named in the config']);
  assert.ok(lines.some((l) => l.message.includes('skipped: invalid') && l.details.file === 'broken.yaml'));
  assert.throws(() => selectProfile('missing', log, { dir }), /ENOENT|missing/);
});

test.run();
