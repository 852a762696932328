/**
 * Optional per-channel sensor encoder: maps a high-dimensional channel (a 360-ray scan, an image)
 * to a compact embedding before lookup, with onnxruntime-node. onnxruntime-node is imported here
 * and nowhere else, lazily in `OnnxEncoder.create`, so a machine without it loses only this path.
 *
 * Start-up checks the model against the config (input/output names, element type, fixed dims) and
 * runs one probe inference; any mismatch is an Error that names the model, the tensor and both
 * shapes. Per cycle, `encode` is synchronous: onnxruntime-node's public `run` defers through
 * setImmediate and a Promise (an event-loop turn per call), so we call its native session's `run`
 * directly (onnxruntime-node/dist/binding.js; checked against 1.30). The boundary still allocates
 * its input/output tensor handles: crossed once per encode, measured by `measureEncoderLatency`.
 */
import { createRequire } from 'node:module';
import type { EventLog, StatusCode } from '../../runtime/contracts.js';
import { Status } from '../../runtime/contracts.js';
import type { EncoderConfig } from './config.js';

type Ort = typeof import('onnxruntime-node');
type OrtTensor = InstanceType<Ort['Tensor']>;

interface NativeSession {
  loadModel(path: string, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: object): Record<string, OrtTensor>;
}

export class OnnxEncoder {
  /** encodes refused (wrong length, non-finite input) */
  rejected = 0;
  private readonly inputTensor: OrtTensor;
  private readonly inputBuffer: Float32Array;
  private readonly feeds: Record<string, OrtTensor>;
  private readonly fetches: Record<string, null>;
  private readonly runOptions = {};

  private constructor(
    readonly config: EncoderConfig,
    private readonly session: NativeSession,
    ort: Ort,
    readonly provider: string,
  ) {
    this.inputBuffer = new Float32Array(config.inputSize);
    this.inputTensor = new ort.Tensor('float32', this.inputBuffer, [1, config.inputSize]);
    this.feeds = { [config.inputName]: this.inputTensor };
    this.fetches = { [config.outputName]: null };
  }

  /** Loads and checks the model; throws an Error that says exactly what does not fit. */
  static async create(config: EncoderConfig, log: EventLog): Promise<OnnxEncoder> {
    const require = createRequire(import.meta.url);
    let ort: Ort;
    let binding: { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void };
    try {
      ort = require('onnxruntime-node') as Ort;
      binding = require('onnxruntime-node/dist/binding.js');
    } catch (error) {
      throw new Error(`encoder '${config.channel}': onnxruntime-node is not loadable (${(error as Error).message})`);
    }
    const options = {
      executionProviders: [config.executionProvider],
      intraOpNumThreads: config.intraOpNumThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all' as const,
    };
    // The public session reads the metadata; its errors (missing file, bad provider) are clear.
    let probe: Awaited<ReturnType<Ort['InferenceSession']['create']>>;
    try {
      probe = await ort.InferenceSession.create(config.model, options);
    } catch (error) {
      const hint =
        config.executionProvider === 'cuda' ? ' (the CUDA provider needs an onnxruntime-node build with CUDA)' : '';
      throw new Error(`encoder '${config.channel}': cannot load ${config.model}${hint}: ${(error as Error).message}`);
    }
    checkTensor(config, 'input', config.inputName, config.inputSize, probe.inputNames, probe.inputMetadata);
    checkTensor(config, 'output', config.outputName, config.outputSize, probe.outputNames, probe.outputMetadata);
    const zeros = new ort.Tensor('float32', new Float32Array(config.inputSize), [1, config.inputSize]);
    let probeOut: OrtTensor;
    try {
      probeOut = (await probe.run({ [config.inputName]: zeros }))[config.outputName] as OrtTensor;
    } catch (error) {
      throw new Error(
        `encoder '${config.channel}': probe inference failed on ${config.model}: ${(error as Error).message}`,
      );
    }
    if (probeOut.size !== config.outputSize) {
      throw new Error(
        `encoder '${config.channel}': ${config.model} output '${config.outputName}' has ${probeOut.size} values (dims [${probeOut.dims.join(', ')}]), config says outputSize ${config.outputSize}`,
      );
    }
    await probe.release();
    binding.initOrt();
    const session = new binding.binding.InferenceSession();
    session.loadModel(config.model, options);
    const encoder = new OnnxEncoder(config, session, ort, config.executionProvider);
    log.info(
      {
        channel: config.channel,
        model: config.model,
        provider: config.executionProvider,
        input: config.inputSize,
        output: config.outputSize,
      },
      'onnx encoder ready',
    );
    return encoder;
  }

  /**
   * Encodes input[inputOffset .. +inputSize) into output[outputOffset .. +outputSize). Returns
   * Status.ok, or a rejection code (output untouched) for a short or non-finite input.
   */
  encode(input: Float32Array, inputOffset: number, output: Float32Array, outputOffset: number): StatusCode {
    const inputSize = this.config.inputSize;
    const outputSize = this.config.outputSize;
    if (inputOffset < 0 || input.length - inputOffset < inputSize || output.length - outputOffset < outputSize) {
      this.rejected++;
      return Status.wrongLength;
    }
    const buffer = this.inputBuffer;
    for (let i = 0; i < inputSize; i++) {
      const value = input[inputOffset + i]!;
      if (value - value !== 0) {
        this.rejected++;
        return Status.nonFinite;
      }
      buffer[i] = value;
    }
    const results = this.session.run(this.feeds, this.fetches, this.runOptions);
    const data = results[this.config.outputName]!.data as Float32Array;
    for (let j = 0; j < outputSize; j++) output[outputOffset + j] = data[j]!;
    return Status.ok;
  }
}

function checkTensor(
  config: EncoderConfig,
  role: 'input' | 'output',
  name: string,
  size: number,
  names: readonly string[],
  metadata: readonly unknown[],
): void {
  const index = names.indexOf(name);
  if (index < 0) {
    throw new Error(
      `encoder '${config.channel}': ${config.model} has no ${role} '${name}' (it has: ${names.join(', ')})`,
    );
  }
  const meta = metadata[index] as { type?: string; shape?: readonly (number | string)[] } | undefined;
  if (meta?.type !== undefined && meta.type !== 'float32') {
    throw new Error(
      `encoder '${config.channel}': ${role} '${name}' of ${config.model} is ${meta.type}, expected float32`,
    );
  }
  const shape = meta?.shape;
  if (!shape) return;
  // fixed dims after the (usually symbolic) batch dim must multiply to the configured size
  let fixed = 1;
  for (let i = 1; i < shape.length; i++) {
    const dim = shape[i];
    if (typeof dim === 'number') fixed *= dim;
  }
  const leading = shape[0];
  if (shape.length === 1 && typeof leading === 'number') fixed = leading;
  if (fixed !== size) {
    throw new Error(
      `encoder '${config.channel}': ${role} '${name}' of ${config.model} has shape [${shape.join(', ')}], config says ${role}Size ${size}`,
    );
  }
}

export interface EncoderLatency {
  samples: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** Times `encoder.encode` on a fixed input (for `engram bench brain`); warm-up runs excluded. */
export function measureEncoderLatency(
  encoder: OnnxEncoder,
  samples = 2000,
  now = () => Number(process.hrtime.bigint()),
): EncoderLatency {
  const input = new Float32Array(encoder.config.inputSize);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.1);
  const output = new Float32Array(encoder.config.outputSize);
  for (let i = 0; i < 50; i++) encoder.encode(input, 0, output, 0);
  const times = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    encoder.encode(input, 0, output, 0);
    times[s] = (now() - t0) / 1000;
  }
  times.sort();
  return {
    samples,
    p50Us: times[Math.floor(samples * 0.5)]!,
    p99Us: times[Math.min(samples - 1, Math.floor(samples * 0.99))]!,
    maxUs: times[samples - 1]!,
  };
}
