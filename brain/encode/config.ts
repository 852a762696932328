/**
 * Config for the optional per-channel ONNX encoders (brain/encode/onnx.ts). brain/config.ts should
 * compose `encodersConfigSchema` as `encoders` in the brain schema (owned elsewhere; see the
 * similarity/encoder report).
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const encoderConfigSchema = z.strictObject({
  /** the sensor channel this encoder replaces with its embedding (ChannelSpec.name) */
  channel: z.string().min(1),
  /** path to the .onnx model */
  model: z.string().min(1),
  inputName: z.string().min(1),
  outputName: z.string().min(1),
  /** floats per input row (e.g. 360 for a 360-ray scan); checked against the model at start */
  inputSize: positiveInt,
  /** floats per embedding; checked against the model at start */
  outputSize: positiveInt,
  /** 'cuda' needs an onnxruntime-node build with the CUDA provider; otherwise start fails clearly */
  executionProvider: z.enum(['cpu', 'cuda']).default('cpu'),
  /** MEASUREMENTS.md: more native threads than 1 hurt on a 2-core box */
  intraOpNumThreads: positiveInt.default(1),
});

export const encodersConfigSchema = z.array(encoderConfigSchema).default([]);

export type EncoderConfig = z.infer<typeof encoderConfigSchema>;
