/**
 * Generates the tiny ONNX model the encoder tests use: a 360-ray range scan to a 16-dim embedding,
 * y = relu(x W + b), with deterministic weights from `testModelWeights` (the test recomputes the
 * same maths in TypeScript and compares). Built with onnx-proto, so no Python or onnx package.
 *
 * usage: npx tsx scripts/make-test-model.ts [out.onnx]   (default brain/encode/models/scan360-embed16.onnx)
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const testModel = {
  inputName: 'scan',
  outputName: 'embedding',
  inputSize: 360,
  outputSize: 16,
  path: fileURLToPath(new URL('../brain/encode/models/scan360-embed16.onnx', import.meta.url)),
} as const;

/** W is [inputSize, outputSize] row-major, b is [outputSize]: smooth, deterministic, mixed signs. */
export function testModelWeights(): { weights: Float32Array; bias: Float32Array } {
  const { inputSize, outputSize } = testModel;
  const weights = new Float32Array(inputSize * outputSize);
  for (let i = 0; i < inputSize; i++) {
    for (let j = 0; j < outputSize; j++) weights[i * outputSize + j] = Math.sin(0.37 * i + 1.13 * j + 0.5) * 0.08;
  }
  const bias = new Float32Array(outputSize);
  for (let j = 0; j < outputSize; j++) bias[j] = 0.02 * (j - outputSize / 2);
  return { weights, bias };
}

export function buildTestModel(): Uint8Array {
  const require = createRequire(import.meta.url);
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const { inputName, outputName, inputSize, outputSize } = testModel;
  const { weights, bias } = testModelWeights();
  const floatType = onnx.TensorProto.DataType.FLOAT;
  const valueInfo = (name: string, size: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: { elemType: floatType, shape: { dim: [{ dimParam: 'batch' }, { dimValue: size }] } },
      },
    });
  const graph = onnx.GraphProto.create({
    name: 'scan360_embed16',
    node: [
      onnx.NodeProto.create({ opType: 'MatMul', input: [inputName, 'W'], output: ['xw'], name: 'project' }),
      onnx.NodeProto.create({ opType: 'Add', input: ['xw', 'b'], output: ['xwb'], name: 'bias' }),
      onnx.NodeProto.create({ opType: 'Relu', input: ['xwb'], output: [outputName], name: 'relu' }),
    ],
    initializer: [
      onnx.TensorProto.create({
        name: 'W',
        dataType: floatType,
        dims: [inputSize, outputSize],
        floatData: Array.from(weights),
      }),
      onnx.TensorProto.create({ name: 'b', dataType: floatType, dims: [outputSize], floatData: Array.from(bias) }),
    ],
    input: [valueInfo(inputName, inputSize)],
    output: [valueInfo(outputName, outputSize)],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'engram scripts/make-test-model.ts',
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? testModel.path;
  const bytes = buildTestModel();
  writeFileSync(out, bytes);
  console.log(`wrote ${out} (${bytes.length} bytes)`);
}
