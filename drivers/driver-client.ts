/**
 * The robot side of the protocol in TypeScript: connect (PUSH frames, SUB actions), say hello until
 * welcomed, send frames, read actions. Used by the simulator process, the tests and the transport
 * benchmark; a robot written in Node can use it as it is (examples/python has the Python twin). Shared by drivers/zmq and drivers/sim (which may not import
 * each other), hence here.
 *
 * If engram restarts, it answers frames of an unknown session with a `noHandshake` reject; the
 * client then says hello again by itself (`rehellos` counts it).
 */
import { randomInt } from 'node:crypto';
import type { Packr, Unpackr } from 'msgpackr';
import { Push, Subscriber } from 'zeromq';
import {
  type ChannelDeclaration,
  createPackr,
  createUnpackr,
  decodeOutbound,
  encodeHello,
  type OutboundMessage,
  protocolVersion,
} from './driver-protocol.js';

export interface ClientCurve {
  /** engram's public key (z85) */
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
}

export interface EngramClientOptions {
  frames: string;
  actions: string;
  channels: readonly ChannelDeclaration[];
  actionSize: number;
  name?: string;
  curve?: ClientCurve;
  /** session id; random by default (a restarted robot must use a new one) */
  session?: number;
}

export type Welcome = Extract<OutboundMessage, { type: 'welcome' }>;
export type ClientAction = Extract<OutboundMessage, { type: 'action' }>;

export interface FrameExtras {
  reward?: number;
  episodeStart?: boolean;
  estop?: boolean;
  stampNs?: number;
}

export class EngramClient {
  readonly session: number;
  private readonly push: Push;
  private readonly sub: Subscriber;
  private readonly packr: Packr = createPackr();
  private readonly unpackr: Unpackr = createUnpackr();
  /** channel name -> reused float buffer, viewed by the reused message's bin values */
  private readonly channelValues = new Map<string, Float32Array>();
  private readonly frameMessage: {
    v: number;
    type: 'frame';
    session: number;
    seq: number;
    stamp: number;
    channels: Record<string, Buffer>;
    reward: number;
    episodeStart: boolean;
    estop: boolean;
  };
  private welcome: Welcome | undefined;
  private lastReject: Extract<OutboundMessage, { type: 'reject' }> | undefined;
  private needsHello = false;
  private seq = 0;
  rehellos = 0;
  /** frames ZeroMQ could not queue */
  dropped = 0;
  private readonly allChannels: Record<string, Buffer>;
  private readonly countDrop = () => {
    this.dropped++;
  };

  constructor(private readonly options: EngramClientOptions) {
    this.session = options.session ?? randomInt(1, 0x7fff_ffff);
    const curve = options.curve
      ? {
          curveServerKey: options.curve.serverPublicKey,
          curvePublicKey: options.curve.publicKey,
          curveSecretKey: options.curve.secretKey,
        }
      : {};
    this.push = new Push({ linger: 0, sendHighWaterMark: 64, sendTimeout: 0, ...curve });
    this.sub = new Subscriber({ linger: 0, ...curve });
    const channels: Record<string, Buffer> = {};
    for (const { name, size } of options.channels) {
      const values = new Float32Array(size);
      this.channelValues.set(name, values);
      channels[name] = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    }
    this.allChannels = channels;
    this.frameMessage = {
      v: protocolVersion,
      type: 'frame',
      session: this.session,
      seq: 0,
      stamp: 0,
      channels,
      reward: 0,
      episodeStart: false,
      estop: false,
    };
  }

  /** Connects and repeats the hello until engram welcomes this session (or `timeoutMs` passes). */
  async connect(timeoutMs = 5000): Promise<Welcome> {
    this.sub.subscribe();
    this.push.connect(this.options.frames);
    this.sub.connect(this.options.actions);
    return this.hello(timeoutMs);
  }

  /** Says hello until welcomed; throws with engram's reason if the hello is rejected. */
  async hello(timeoutMs = 5000): Promise<Welcome> {
    this.welcome = undefined;
    this.lastReject = undefined;
    const deadline = Date.now() + timeoutMs;
    const hello = encodeHello(
      this.packr,
      this.session,
      this.options.channels,
      this.options.actionSize,
      this.options.name ?? 'ts-client',
    );
    while (Date.now() < deadline) {
      // PUB/SUB joins late: the first welcome may be lost, so the hello repeats until answered.
      await this.push.send(hello).catch(() => undefined);
      const answer = await this.receiveUntil(Math.min(deadline, Date.now() + 100), (m) => m.type !== 'action');
      if (this.welcome) return this.welcome;
      if (answer?.type === 'reject' && answer.reason === 'helloMismatch') {
        throw new Error(`engram rejected the hello: ${answer.detail}`);
      }
    }
    throw new Error(`no welcome from engram at ${this.options.frames} within ${timeoutMs} ms`);
  }

  /**
   * Sends one frame. `values` maps channel name to its values (a subset of channels is allowed).
   * Returns the frame's seq. Never blocks: when ZeroMQ's queue is full the frame is dropped (and
   * counted in `dropped`), as a robot would rather send the next, fresher frame.
   */
  sendFrame(values: Readonly<Record<string, ArrayLike<number>>>, extras: FrameExtras = {}): number {
    if (this.needsHello) {
      // engram lost our session (it restarted): greet again without waiting, then keep sending.
      this.needsHello = false;
      this.rehellos++;
      void this.push
        .send(
          encodeHello(
            this.packr,
            this.session,
            this.options.channels,
            this.options.actionSize,
            this.options.name ?? 'ts-client',
          ),
        )
        .catch(() => undefined);
    }
    const message = this.frameMessage;
    let given = 0;
    for (const name in values) {
      const target = this.channelValues.get(name);
      const source = values[name]!;
      if (!target) throw new Error(`unknown channel '${name}'`);
      if (source.length !== target.length) throw new Error(`channel '${name}' needs ${target.length} values`);
      for (let i = 0; i < target.length; i++) target[i] = source[i]!;
      given++;
    }
    // All channels: the preallocated map. A subset: a small map of the given ones.
    let present = this.allChannels;
    if (given !== this.channelValues.size) {
      present = {};
      for (const name in values) present[name] = this.allChannels[name]!;
    }
    const seq = this.seq++;
    message.seq = seq;
    message.stamp = extras.stampNs ?? Number(process.hrtime.bigint());
    message.channels = present;
    message.reward = extras.reward ?? 0;
    message.episodeStart = extras.episodeStart ?? false;
    message.estop = extras.estop ?? false;
    try {
      this.push.send(this.packr.pack(message)).catch(this.countDrop);
    } catch {
      this.dropped++; // a send still pending (zeromq.js throws EBUSY synchronously)
    }
    return seq;
  }

  /** Sends raw bytes on the frames socket (tests and fuzzing). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.push.send(bytes);
  }

  /** The next action for this session, or undefined after `timeoutMs`. */
  async nextAction(timeoutMs = 1000): Promise<ClientAction | undefined> {
    const message = await this.receiveUntil(Date.now() + timeoutMs, (m) => m.type === 'action');
    return message?.type === 'action' ? message : undefined;
  }

  /** The action answering frame `seq` (older ones are skipped), or undefined after `timeoutMs`. */
  async actionFor(seq: number, timeoutMs = 1000): Promise<ClientAction | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const action = await this.nextAction(Math.max(0, deadline - Date.now()));
      if (!action) return undefined;
      if (action.frameSeq >= seq) return action;
    }
  }

  rejected(): Extract<OutboundMessage, { type: 'reject' }> | undefined {
    return this.lastReject;
  }

  close(): void {
    this.push.close();
    this.sub.close();
  }

  /** Reads messages for this session until one satisfies `want` or the deadline passes. */
  private async receiveUntil(
    deadlineMs: number,
    want: (message: OutboundMessage) => boolean,
  ): Promise<OutboundMessage | undefined> {
    for (;;) {
      const left = deadlineMs - Date.now();
      if (left <= 0) return undefined;
      this.sub.receiveTimeout = Math.max(1, Math.ceil(left));
      let parts: Buffer[];
      try {
        parts = await this.sub.receive();
      } catch {
        return undefined; // timeout (EAGAIN) or closed
      }
      const message = parts.length === 1 ? decodeOutbound(this.unpackr, parts[0]!) : undefined;
      if (!message || message.session !== this.session) continue;
      if (message.type === 'welcome') this.welcome = message;
      if (message.type === 'reject') {
        this.lastReject = message;
        if (message.reason === 'noHandshake') this.needsHello = true;
      }
      if (want(message)) return message;
    }
  }
}
