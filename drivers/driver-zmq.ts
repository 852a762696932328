/**
 * The ZeroMQ driver (engram's end of the wire protocol). It lives here, among the shared driver
 * files, because drivers/zmq and drivers/sim (the simulator process over ZeroMQ) both bind it and
 * may not import each other; drivers/zmq/driver.ts re-exports it.
 *
 * engram binds a PULL socket for frames and a PUB socket for actions (and the
 * handshake's answers). Robots connect with PUSH and SUB; ZeroMQ reconnects by itself, and a robot
 * that restarts sends a new hello (a new session), which replaces the old one.
 *
 * Latest-frame-wins: a receive loop on the event loop drains the socket as messages arrive,
 * decodes and validates each straight into the assembler's preallocated buffers, and commits it
 * to the latest slot. `poll` copies the slot into the loop's Frame. A robot sending faster than
 * the loop therefore never builds a queue (and ZeroMQ's own queue is capped by the receive HWM).
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Publisher, Pull } from 'zeromq';
import type { Action, ChannelSpec, Clock, Driver, EventLog, Frame, StatusCode } from '../runtime/contracts.js';
import {
  type DetailedDriverCounters,
  FrameAssembler,
  type InputSignal,
  RejectionCounter,
  silentEventLog,
} from './driver.js';
import {
  type CurveFiles,
  registerZapDomain,
  resolveServerSecurity,
  type ServerSecurity,
  unregisterZapDomain,
} from './driver-curve.js';
import {
  ActionEncoder,
  createPackr,
  Decoded,
  encodeReject,
  encodeWelcome,
  helloMismatch,
  InboundDecoder,
  Reject,
  type RejectReason,
  rejectReasons,
} from './driver-protocol.js';

/** The part of drivers/zmq/config.ts (ZmqConfig) the driver reads; drivers/sim fills it too. */
export interface ZmqEndpointConfig {
  frames: string;
  actions: string;
  maxMessageBytes: number;
  curve?: CurveFiles | undefined;
}

export interface ZmqDriverOptions {
  config: ZmqEndpointConfig;
  channels: readonly ChannelSpec[];
  actionSize: number;
  clock: Clock;
  log?: EventLog;
}

/** ZeroMQ drops (and the peer reconnects) beyond this multiple of maxMessageBytes: a memory guard. */
const hardLimitFactor = 4;
/** Rejections of an unknown session are answered at most this often, so a client can re-hello. */
const rejectReplyIntervalNs = 100e6;
/** How long stop() waits for a closed tcp endpoint's port to be free before it goes on regardless. */
const releaseTimeoutMs = 1000;

/** Whether a listening socket can be bound to `host:port` now (tried, and closed at once). */
function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Resolves true once the port of a closed `tcp://host:port` endpoint can be bound again (at once
 * for other transports: libzmq unlinks and rebinds an ipc path itself), false after
 * releaseTimeoutMs. zmq_close returns before libzmq's I/O thread closes the listening descriptor:
 * a driver started again at once on the same port met "Address already in use" in 2 of 30 test
 * runs on a loaded 2-core machine (72 of 300 bare close-and-rebinds). zeromq.js offers no signal
 * for that close that is safe here (its unbindSync misbehaves in 6.8; unbind runs in a worker
 * thread while the receive loop may read the same socket), so the port itself is asked.
 */
async function whenReleased(endpoint: string): Promise<boolean> {
  const [, host, port] = /^tcp:\/\/\[?([^\]]*)\]?:(\d+)$/.exec(endpoint) ?? [];
  if (host === undefined || port === undefined) return true;
  const deadline = Date.now() + releaseTimeoutMs;
  while (!(await portIsFree(host, Number(port)))) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

export class ZmqDriver implements Driver, InputSignal {
  readonly name = 'zmq';
  private readonly assembler: FrameAssembler;
  private readonly decoder: InboundDecoder;
  private readonly actionEncoder: ActionEncoder;
  private readonly packr = createPackr();
  private readonly rejections: RejectionCounter<RejectReason>;
  private readonly log: EventLog;
  private readonly security: ServerSecurity;
  private frames: Pull | undefined;
  private actions: Publisher | undefined;
  private receiving: Promise<void> | undefined;
  private inputListener: (() => void) | undefined;
  /** the session that completed the hello; -1 before any */
  private session = -1;
  private lastSeq = -1;
  private lastRejectReplyNs = Number.NEGATIVE_INFINITY;
  private readonly stats = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0, sendErrors: 0 };
  private readonly countSendError = () => {
    this.stats.sendErrors++;
  };

  constructor(private readonly options: ZmqDriverOptions) {
    this.log = options.log ?? silentEventLog;
    if (!Number.isInteger(options.actionSize) || options.actionSize <= 0) {
      throw new Error(`actionSize must be a positive integer, got ${options.actionSize}`);
    }
    this.assembler = new FrameAssembler(options.channels, options.clock);
    this.decoder = new InboundDecoder(this.assembler, options.config.maxMessageBytes);
    this.actionEncoder = new ActionEncoder(options.actionSize);
    this.rejections = new RejectionCounter(rejectReasons, this.log, 'zmq: rejected input', options.clock);
    // Decided at construction, before any socket exists: refuses exposed binds without keys.
    this.security = resolveServerSecurity([options.config.frames, options.config.actions], options.config.curve);
  }

  get observationSize(): number {
    return this.assembler.layout.observationSize;
  }

  async start(): Promise<void> {
    const { config } = this.options;
    const curve = this.security.curve;
    if (curve) await registerZapDomain(curve.zapDomain, curve.authorizedClients);
    const secure = curve
      ? { curveServer: true, curveSecretKey: curve.secretKey, zapDomain: curve.zapDomain, zapEnforceDomain: true }
      : {};
    // ZMTP heartbeats notice a peer that vanished without closing (cable pulled, host frozen) and
    // drop its connection, so its queue does not linger; the robot's reconnect then starts fresh.
    const heartbeat = { heartbeatInterval: 1000, heartbeatTimeout: 3000, heartbeatTimeToLive: 3000 };
    const frames = new Pull({
      linger: 0,
      receiveHighWaterMark: 64,
      maxMessageSize: config.maxMessageBytes * hardLimitFactor,
      ...heartbeat,
      ...secure,
    });
    // Actions are only useful fresh: a full queue drops rather than waits. sendTimeout 0 makes a send
    // that cannot be queued fail at once; otherwise zeromq.js keeps it pending and throws "busy" on
    // the next send (seen with a slow subscriber in bench transport).
    const actions = new Publisher({ linger: 0, sendHighWaterMark: 16, sendTimeout: 0, ...heartbeat, ...secure });
    try {
      await frames.bind(config.frames);
      await actions.bind(config.actions);
    } catch (error) {
      frames.close();
      actions.close();
      if (curve) unregisterZapDomain(curve.zapDomain);
      throw new Error(`zmq: cannot bind ${config.frames} / ${config.actions}: ${(error as Error).message}`);
    }
    this.frames = frames;
    this.actions = actions;
    this.receiving = this.receiveLoop(frames);
    this.log.info(
      { frames: config.frames, actions: config.actions, curve: curve !== undefined },
      'zmq driver listening',
    );
  }

  setInputListener(listener: (() => void) | undefined): void {
    this.inputListener = listener;
  }

  poll(into: Frame): StatusCode {
    return this.assembler.poll(into);
  }

  publish(action: Action): void {
    const socket = this.actions;
    if (!socket || this.session < 0) return;
    const bytes = this.actionEncoder.encode(
      this.session,
      action.cycle,
      action.frameSeq,
      action.stale,
      action.publishedNs,
      action.values,
    );
    this.stats.actionsPublished++;
    this.send(bytes);
  }

  counters(): DetailedDriverCounters {
    return {
      framesReceived: this.stats.framesReceived,
      framesRejected: this.stats.framesRejected,
      actionsPublished: this.stats.actionsPublished,
      reconnects: this.stats.reconnects,
      droppedActions: this.stats.sendErrors,
      rejectedByReason: this.rejections.byReason(),
      staleFrames: this.assembler.staleFrames,
    };
  }

  /** The endpoints actually bound (a `tcp://127.0.0.1:*` config resolves to a real port here). */
  boundEndpoints(): { frames: string; actions: string } {
    const frames = this.frames?.lastEndpoint;
    const actions = this.actions?.lastEndpoint;
    if (!frames || !actions) throw new Error('zmq driver is not started');
    return { frames, actions };
  }

  /** The session id of the robot currently talking to engram (-1 before any hello). */
  activeSession(): number {
    return this.session;
  }

  /** Resolves once the endpoints are free to bind again (a restart in the same process binds them). */
  async stop(): Promise<void> {
    const endpoints = [this.frames?.lastEndpoint, this.actions?.lastEndpoint];
    this.frames?.close();
    this.actions?.close();
    for (const endpoint of endpoints) {
      if (endpoint && !(await whenReleased(endpoint))) {
        this.log.warn({ endpoint, timeoutMs: releaseTimeoutMs }, 'zmq: port still bound after stop');
      }
    }
    await this.receiving;
    this.frames = undefined;
    this.actions = undefined;
    const curve = this.security.curve;
    if (curve) unregisterZapDomain(curve.zapDomain);
  }

  private async receiveLoop(socket: Pull): Promise<void> {
    try {
      for await (const parts of socket) {
        if (parts.length !== 1) this.reject(Reject.malformed, -1);
        else this.ingest(parts[0]!);
      }
    } catch (error) {
      if (!socket.closed) this.log.error({ error: (error as Error).message }, 'zmq: receive loop ended');
    }
  }

  /**
   * Handles one inbound message as if it had arrived on the frames socket (the receive loop calls
   * it; the fuzz test too). Decides everything before touching the latest slot. Returns
   * Decoded.frame or Decoded.hello when accepted, else the reject reason code.
   */
  ingest(bytes: Buffer): number {
    const result = this.decoder.decode(bytes);
    if (result === Decoded.hello) return this.acceptHello();
    if (result !== Decoded.frame) {
      this.reject(result, -1);
      return result;
    }
    const header = this.decoder.header;
    if (header.session !== this.session) {
      this.reject(Reject.noHandshake, header.session);
      return Reject.noHandshake;
    }
    if (header.seq <= this.lastSeq) {
      this.reject(Reject.outOfOrder, header.session);
      return Reject.outOfOrder;
    }
    this.lastSeq = header.seq;
    this.assembler.commit(header.seq, header.stampNs, header.reward, header.episodeStart, header.estop);
    this.stats.framesReceived++;
    this.inputListener?.();
    return Decoded.frame;
  }

  private acceptHello(): number {
    const hello = this.decoder.hello;
    const { channels, actionSize } = this.options;
    const mismatch = helloMismatch(hello, channels, actionSize);
    if (mismatch !== undefined) {
      this.rejections.reject(Reject.helloMismatch);
      this.stats.framesRejected++;
      this.send(encodeReject(this.packr, hello.session, 'helloMismatch', mismatch));
      this.log.warn({ client: hello.client, session: hello.session, mismatch }, 'zmq: hello rejected');
      return Reject.helloMismatch;
    }
    if (hello.session !== this.session) {
      if (this.session >= 0) this.stats.reconnects++;
      this.session = hello.session;
      this.lastSeq = -1;
      this.assembler.reset();
      this.log.info({ client: hello.client, session: hello.session }, 'zmq: robot connected');
    }
    // A repeated hello of the current session (the robot missed the welcome) is answered again.
    this.send(encodeWelcome(this.packr, hello.session, channels, actionSize, `engram pid ${process.pid}`));
    return Decoded.hello;
  }

  private reject(reason: number, session: number): void {
    this.rejections.reject(reason);
    this.stats.framesRejected++;
    if (reason === Reject.noHandshake) {
      // Tell the robot to say hello again (it restarted, or engram did), at a bounded rate.
      const now = this.options.clock.nowNs();
      if (now - this.lastRejectReplyNs >= rejectReplyIntervalNs) {
        this.lastRejectReplyNs = now;
        this.send(encodeReject(this.packr, session, 'noHandshake', 'send hello first'));
      }
    }
  }

  /** Never throws and never waits: a send that cannot go now is dropped and counted. */
  private send(bytes: Buffer): void {
    const socket = this.actions;
    if (!socket) return;
    try {
      socket.send(bytes).catch(this.countSendError);
    } catch {
      // zeromq.js throws synchronously (EBUSY) when a previous send is still pending
      this.stats.sendErrors++;
    }
  }
}

export function createZmqDriver(options: ZmqDriverOptions): ZmqDriver {
  return new ZmqDriver(options);
}
