/**
 * From a validated runtime config to what the loop and the safety filter take (ns, typed arrays).
 * One place for the unit conversions, shared by `engram run`, the loop benchmark and replay.
 */
import { observationSize, type RuntimeConfig, staleAfterNs } from './config.js';
import type { ChannelSpec } from './contracts.js';
import type { LoopSettings } from './loop.js';
import { actionLimits, SafetyFilter } from './safety.js';

const MS = 1e6;

export function loopSettingsFromConfig(config: RuntimeConfig): LoopSettings {
  const stages = config.budget.stages;
  return {
    rateHz: config.rateHz,
    cycleBudgetNs: config.budget.cycleMs * MS,
    stageBudgetsNs: {
      ingest: stages.ingest * MS,
      encode: stages.encode * MS,
      lookup: stages.lookup * MS,
      plan: stages.plan * MS,
      publish: stages.publish * MS,
    },
    maintenanceNs: config.budget.maintenanceMs * MS,
    overrunPolicy: config.safety.overrunPolicy,
    effort: config.budget.effort,
    fullEffort: {
      candidates: config.brain.planner.candidates,
      horizon: config.brain.planner.horizon,
      ef: config.brain.similarity.hnsw.efSearch,
    },
  };
}

export function safetyFilterFromConfig(config: RuntimeConfig): SafetyFilter {
  return new SafetyFilter(actionLimits(config.action), staleAfterNs(config));
}

/** The channels as the driver contract names them. */
export function channelSpecs(config: RuntimeConfig): ChannelSpec[] {
  return config.channels.map((channel) => ({ name: channel.name, size: channel.size, maxAgeMs: channel.maxAgeMs }));
}

export { observationSize };
