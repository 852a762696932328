/**
 * Drives Debian's headless Chromium over the DevTools protocol on --remote-debugging-pipe
 * (fd 3: our commands in, fd 4: its replies and events, each message NUL-terminated JSON).
 * Enough for report tests: open a page, collect console errors, evaluate, take a screenshot.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(chromiumPath);
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

export class Chromium {
  /** console errors, uncaught exceptions and error log entries seen on any page */
  readonly errors: string[] = [];
  private readonly child: ChildProcess;
  private readonly input: Writable;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  private readonly waiters: { method: string; resolve: (m: Message) => void }[] = [];
  private readonly profileDir: string;
  private buffered = '';
  private stderr = '';

  constructor() {
    this.profileDir = mkdtempSync(join(tmpdir(), 'engram-chromium-'));
    this.child = spawn(
      chromiumPath,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${this.profileDir}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.input = this.child.stdio[3] as Writable;
    const output = this.child.stdio[4] as Readable;
    output.on('data', (chunk: Buffer) => this.receive(chunk.toString()));
    this.child.on('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error(`chromium exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  private receive(text: string): void {
    this.buffered += text;
    let end = this.buffered.indexOf('\0');
    while (end >= 0) {
      const message = JSON.parse(this.buffered.slice(0, end)) as Message;
      this.buffered = this.buffered.slice(end + 1);
      this.dispatch(message);
      end = this.buffered.indexOf('\0');
    }
  }

  private dispatch(message: Message): void {
    if (message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message);
      return;
    }
    const params = message.params ?? {};
    if (message.method === 'Runtime.consoleAPICalled' && params.type === 'error') {
      this.errors.push(`console.error: ${JSON.stringify(params.args)}`);
    } else if (message.method === 'Runtime.exceptionThrown') {
      this.errors.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
    } else if (message.method === 'Log.entryAdded') {
      const entry = params.entry as { level?: string; text?: string; url?: string };
      if (entry.level === 'error') this.errors.push(`log: ${entry.text} ${entry.url ?? ''}`);
    }
    for (let i = 0; i < this.waiters.length; i++) {
      if (this.waiters[i]!.method === message.method) {
        this.waiters.splice(i, 1)[0]!.resolve(message);
        break;
      }
    }
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (m) => resolve(m.result ?? {}), reject });
      this.input.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  }

  waitFor(method: string): Promise<Message> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }

  /** Opens `url` in a new page of the given viewport; resolves with the page's session id after load. */
  async open(url: string, width: number, height: number): Promise<string> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Log.enable', {}, sessionId);
    await this.send('Page.enable', {}, sessionId);
    await this.send(
      'Emulation.setDeviceMetricsOverride',
      { width, height, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    const loaded = this.waitFor('Page.loadEventFired');
    await this.send('Page.navigate', { url }, sessionId);
    await loaded;
    return sessionId;
  }

  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const result = (await this.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as {
      result: { value: T };
    };
    return result.result.value;
  }

  /** Full-page PNG screenshot. */
  async screenshot(sessionId: string): Promise<Buffer> {
    const { data } = (await this.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true },
      sessionId,
    )) as {
      data: string;
    };
    return Buffer.from(data, 'base64');
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.send('Browser.close').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}
