/**
 * The ONNX encoder against the same maths in TypeScript (relu(x W + b) with the generator's
 * weights), the committed model against its generator, shape checks at start with clear errors,
 * and bad input counted without a crash.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encoderConfigSchema } from '../../../brain/encode/config.js';
import { measureEncoderLatency, OnnxEncoder } from '../../../brain/encode/onnx.js';
import { Status } from '../../../runtime/contracts.js';
import { buildTestModel, testModel, testModelWeights } from '../../../scripts/make-test-model.js';

const quiet = { info() {}, warn() {}, error() {} };
const config = encoderConfigSchema.parse({
  channel: 'scan',
  model: testModel.path,
  inputName: testModel.inputName,
  outputName: testModel.outputName,
  inputSize: testModel.inputSize,
  outputSize: testModel.outputSize,
});

test('the committed model is what the generator writes', () => {
  const committed = readFileSync(testModel.path);
  const generated = Buffer.from(buildTestModel());
  assert.is(committed.length, generated.length);
  assert.ok(committed.equals(generated), 'regenerate with npx tsx scripts/make-test-model.ts');
});

test('ORT output equals relu(x W + b) computed in TypeScript', async () => {
  const encoder = await OnnxEncoder.create(config, quiet);
  const { weights, bias } = testModelWeights();
  const input = new Float32Array(2 * 360);
  for (let i = 0; i < input.length; i++) input[i] = Math.cos(i * 0.05) * 2 + (i % 7) * 0.1;
  const output = new Float32Array(20);
  let positives = 0;
  for (let row = 0; row < 2; row++) {
    assert.is(encoder.encode(input, row * 360, output, 2), Status.ok);
    for (let j = 0; j < 16; j++) {
      let sum = bias[j]!;
      for (let i = 0; i < 360; i++) sum += input[row * 360 + i]! * weights[i * 16 + j]!;
      const expected = Math.max(0, sum);
      if (expected > 0) positives++;
      assert.ok(
        Math.abs(output[2 + j]! - expected) <= 1e-4 * Math.max(1, Math.abs(expected)),
        `row ${row} unit ${j}: ${output[2 + j]} vs ${expected}`,
      );
    }
  }
  assert.ok(positives > 4, 'the relu is not trivially zero');
  assert.is(output[0], 0, 'writes only its own range');
});

test('mismatched config fails at start, naming what does not fit', async () => {
  const cases: [Partial<typeof config>, RegExp][] = [
    [{ inputSize: 100 }, /shape \[batch, 360\], config says inputSize 100/],
    [{ outputSize: 8 }, /outputSize 8/],
    [{ inputName: 'image' }, /no input 'image' \(it has: scan\)/],
    [{ outputName: 'logits' }, /no output 'logits'/],
    [{ model: join(tmpdir(), 'engram-missing.onnx') }, /cannot load/],
  ];
  for (const [change, pattern] of cases) {
    try {
      await OnnxEncoder.create({ ...config, ...change }, quiet);
      assert.unreachable(`accepted ${JSON.stringify(change)}`);
    } catch (error) {
      assert.match((error as Error).message, pattern);
    }
  }
  const garbage = join(tmpdir(), `engram-garbage-${process.pid}.onnx`);
  writeFileSync(garbage, 'not a model');
  try {
    await OnnxEncoder.create({ ...config, model: garbage }, quiet);
    assert.unreachable('accepted a garbage file');
  } catch (error) {
    assert.match((error as Error).message, /cannot load/);
  }
  assert.throws(() => encoderConfigSchema.parse({ ...config, inputSize: 0 }));
  assert.throws(() => encoderConfigSchema.parse({ ...config, extra: 1 }));
});

test('bad input is counted and refused; output untouched', async () => {
  const encoder = await OnnxEncoder.create(config, quiet);
  const output = new Float32Array(16).fill(7);
  assert.is(encoder.encode(new Float32Array(359), 0, output, 0), Status.wrongLength);
  const nan = new Float32Array(360);
  nan[100] = Number.NaN;
  assert.is(encoder.encode(nan, 0, output, 0), Status.nonFinite);
  assert.is(encoder.encode(new Float32Array(360), 0, new Float32Array(15), 0), Status.wrongLength);
  assert.is(encoder.rejected, 3);
  assert.ok(output.every((v) => v === 7));
  assert.is(encoder.encode(new Float32Array(360), 0, output, 0), Status.ok);
  const latency = measureEncoderLatency(encoder, 200);
  assert.is(latency.samples, 200);
  assert.ok(latency.p50Us > 0 && latency.p99Us >= latency.p50Us);
});

test.run();
