/**
 * The ROS 2 driver: one subscription per configured input topic, each filling one channel, and one
 * publisher for the action. Messages arrive through rclnodejs's spin on the event loop; each is
 * mapped into the assembler's staging buffer and committed only when the whole message mapped
 * (latest value per channel wins; per-channel staleness as in every driver). ROS 2 has no sequence
 * number, so `seq` counts accepted messages.
 *
 * rclnodejs is loaded lazily at start (drivers/ros2/rclnodejs.ts); the bindings are injectable so
 * the driver's wiring is testable with a fake ROS 2 graph (named as such in the tests).
 */
import type { Action, ChannelSpec, Clock, Driver, EventLog, Frame, StatusCode } from '../../runtime/contracts.js';
import { Status } from '../../runtime/contracts.js';
import {
  type DetailedDriverCounters,
  FrameAssembler,
  type InputSignal,
  RejectionCounter,
  silentEventLog,
} from '../driver.js';
import type { Ros2Config } from './config.js';
import { actionWriter, type InputMapper, inputMapper, stampNs } from './mapping.js';
import { loadRclnodejs, type Rclnodejs, type RosNode, type RosPublisher } from './rclnodejs.js';

export interface Ros2DriverOptions {
  config: Ros2Config;
  channels: readonly ChannelSpec[];
  actionSize: number;
  clock: Clock;
  log?: EventLog;
  /** the ROS 2 bindings (default: rclnodejs, loaded lazily at start) */
  load?: () => Promise<Rclnodejs>;
}

const reasons = ['malformed', 'wrongLength', 'nonFinite'] as const;
const reasonIndex = (status: StatusCode): number =>
  status === Status.wrongLength ? 1 : status === Status.nonFinite ? 2 : 0;

export class Ros2Driver implements Driver, InputSignal {
  readonly name = 'ros2';
  private readonly assembler: FrameAssembler;
  private readonly mappers: { channel: number; map: InputMapper }[];
  private readonly output: ReturnType<typeof actionWriter>;
  private readonly rejections: RejectionCounter<(typeof reasons)[number]>;
  private readonly log: EventLog;
  private rcl: Rclnodejs | undefined;
  private node: RosNode | undefined;
  private publisher: RosPublisher | undefined;
  private inputListener: (() => void) | undefined;
  private seq = 0;
  private readonly stats = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, publishErrors: 0 };

  constructor(private readonly options: Ros2DriverOptions) {
    this.log = options.log ?? silentEventLog;
    this.assembler = new FrameAssembler(options.channels, options.clock);
    const layout = this.assembler.layout;
    // Config problems are found here, before anything starts.
    this.mappers = options.config.inputs.map((input) => {
      const channel = layout.indexOf(input.channel);
      if (channel < 0) {
        throw new Error(
          `ROS 2 input ${input.topic} names channel '${input.channel}', which is not among the channels (${options.channels.map((c) => c.name).join(', ')})`,
        );
      }
      return { channel, map: inputMapper(input, layout.channels[channel]!.size) };
    });
    const covered = new Set(options.config.inputs.map((i) => i.channel));
    for (const channel of options.channels) {
      if (!covered.has(channel.name)) throw new Error(`no ROS 2 input fills channel '${channel.name}'`);
    }
    this.output = actionWriter(options.config.output, options.actionSize);
    this.rejections = new RejectionCounter(reasons, this.log, 'ros2: rejected messages', options.clock);
  }

  async start(): Promise<void> {
    const rcl = await (this.options.load ?? loadRclnodejs)();
    await rcl.init();
    const { config } = this.options;
    const node = new rcl.Node(config.nodeName);
    const qos = (q: { reliability: 'best_effort' | 'reliable'; depth: number }) =>
      new rcl.QoS(
        rcl.QoS.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST,
        q.depth,
        q.reliability === 'best_effort'
          ? rcl.QoS.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT
          : rcl.QoS.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE,
      );
    config.inputs.forEach((input, i) => {
      const mapper = this.mappers[i]!;
      node.createSubscription(input.type, input.topic, { qos: qos(input.qos) }, (message) =>
        this.ingest(mapper.channel, mapper.map, message),
      );
    });
    this.publisher = node.createPublisher(config.output.type, config.output.topic, { qos: qos(config.output.qos) });
    rcl.spin(node);
    this.rcl = rcl;
    this.node = node;
    this.log.info(
      { node: config.nodeName, inputs: config.inputs.length, output: config.output.topic },
      'ros2 driver up',
    );
  }

  /** Maps one message into its channel and commits it, or rejects it whole. */
  ingest(channel: number, map: InputMapper, message: unknown): StatusCode {
    const assembler = this.assembler;
    assembler.discard();
    const status = map(message, assembler.staging, assembler.layout.offsets[channel]!);
    if (status !== Status.ok) {
      this.stats.framesRejected++;
      this.rejections.reject(reasonIndex(status));
      return status;
    }
    assembler.stagedChannels[channel] = 1;
    assembler.commit(this.seq++, stampNs(message), 0, false, false);
    this.stats.framesReceived++;
    this.inputListener?.();
    return Status.ok;
  }

  setInputListener(listener: (() => void) | undefined): void {
    this.inputListener = listener;
  }

  poll(into: Frame): StatusCode {
    return this.assembler.poll(into);
  }

  publish(action: Action): void {
    const publisher = this.publisher;
    if (!publisher) return;
    this.output.write(action.values);
    try {
      publisher.publish(this.output.message);
      this.stats.actionsPublished++;
    } catch {
      this.stats.publishErrors++; // counted, never thrown into the loop
    }
  }

  counters(): DetailedDriverCounters {
    return {
      framesReceived: this.stats.framesReceived,
      framesRejected: this.stats.framesRejected,
      actionsPublished: this.stats.actionsPublished,
      reconnects: 0,
      rejectedByReason: this.rejections.byReason(),
      staleFrames: this.assembler.staleFrames,
    };
  }

  async stop(): Promise<void> {
    this.node?.destroy();
    this.rcl?.shutdown();
    this.node = undefined;
    this.publisher = undefined;
  }
}

export function createRos2Driver(options: Ros2DriverOptions): Ros2Driver {
  return new Ros2Driver(options);
}
