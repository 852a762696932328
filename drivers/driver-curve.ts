/**
 * Who may talk to engram. Loopback (and ipc/inproc) endpoints need nothing; any other bind
 * requires CURVE: engram's secret key and a list of authorised client public keys, both from files
 * named in the config. Without them, start fails and says why.
 *
 * Client authentication runs through ZAP (ZeroMQ RFC 27): a Router bound to the reserved
 * inproc://zeromq.zap.01 in the socket's context answers each CURVE handshake with 200 (known
 * public key) or 400. One handler per process serves every driver, each under its own ZAP domain.
 */
import { readFileSync } from 'node:fs';
import { Router } from 'zeromq';

const z85Alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const z85Key = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** Z85 encoding (ZeroMQ RFC 32) of bytes whose length is a multiple of 4. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('z85 needs a multiple of 4 bytes');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(z85Alphabet[value % 85]!);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** True for endpoints only this machine can reach: ipc, inproc and tcp on a loopback address. */
export function isLocalEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://')) return true;
  const tcp = /^tcp:\/\/(.+):(\d+|\*)$/.exec(endpoint);
  if (!tcp) return false;
  const host = tcp[1]!;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === 'localhost' || host === '[::1]';
}

/**
 * Reads z85 keys from a file: bare 40-character lines, or zcert lines such as
 * `public-key = "..."` / `secret-key = "..."` (only lines whose label matches `label` when given).
 * Blank lines and `#` comments are ignored.
 */
export function readKeyFile(path: string, label?: 'public-key' | 'secret-key'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read CURVE key file ${path}: ${(error as Error).message}`);
  }
  const keys: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const labelled = /^([a-z-]+)\s*=\s*"(.*)"$/.exec(line);
    if (labelled) {
      if (label === undefined || labelled[1] === label) keys.push(labelled[2]!);
      continue;
    }
    if (z85Key.test(line)) keys.push(line);
    else if (!/^[a-z-]+$/.test(line) && !line.startsWith('metadata') && !line.startsWith('curve')) {
      throw new Error(`CURVE key file ${path}: '${line.slice(0, 20)}…' is not a 40-character z85 key`);
    }
  }
  for (const key of keys) {
    if (!z85Key.test(key))
      throw new Error(`CURVE key file ${path}: '${key.slice(0, 12)}…' is not a 40-character z85 key`);
  }
  return keys;
}

export interface CurveFiles {
  serverSecretKeyFile: string;
  authorizedClientsFile: string;
}

export interface ServerSecurity {
  /** undefined: plain (loopback only) */
  curve?: { secretKey: string; authorizedClients: ReadonlySet<string>; zapDomain: string };
}

let domainCounter = 0;

/**
 * Decides, before any socket exists, whether these endpoints may be bound and how. Throws an Error
 * whose message says what to configure when a non-local bind has no keys.
 */
export function resolveServerSecurity(endpoints: readonly string[], curve: CurveFiles | undefined): ServerSecurity {
  const exposed = endpoints.filter((e) => !isLocalEndpoint(e));
  if (!curve) {
    if (exposed.length > 0) {
      throw new Error(
        `refusing to bind ${exposed.join(', ')} without encryption: engram binds to 127.0.0.1 (or ipc://) by default, ` +
          'and any other address requires CURVE. Add to the zmq driver config: ' +
          "curve: { serverSecretKeyFile: <file with engram's z85 secret key>, authorizedClientsFile: <file with one client z85 public key per line> }",
      );
    }
    return {};
  }
  const secrets = readKeyFile(curve.serverSecretKeyFile, 'secret-key');
  if (secrets.length !== 1) {
    throw new Error(`CURVE: ${curve.serverSecretKeyFile} must hold exactly one secret key, found ${secrets.length}`);
  }
  const clients = readKeyFile(curve.authorizedClientsFile, 'public-key');
  if (clients.length === 0) {
    throw new Error(`CURVE: ${curve.authorizedClientsFile} lists no client public keys, so nobody could connect`);
  }
  return {
    curve: {
      secretKey: secrets[0]!,
      authorizedClients: new Set(clients),
      zapDomain: `engram-${process.pid}-${++domainCounter}`,
    },
  };
}

/** The process's ZAP handler: one Router, a set of authorised keys per domain. */
const zapDomains = new Map<string, ReadonlySet<string>>();
let zapRouter: Router | undefined;
/** accepted/denied handshakes, for tests and counters */
export const zapStats = { accepted: 0, denied: 0 };

export async function registerZapDomain(domain: string, authorizedClients: ReadonlySet<string>): Promise<void> {
  zapDomains.set(domain, authorizedClients);
  if (zapRouter) return;
  const router = new Router({ linger: 0 });
  await router.bind('inproc://zeromq.zap.01');
  zapRouter = router;
  void serveZap(router);
}

export function unregisterZapDomain(domain: string): void {
  zapDomains.delete(domain);
  if (zapDomains.size === 0 && zapRouter) {
    zapRouter.close();
    zapRouter = undefined;
  }
}

async function serveZap(router: Router): Promise<void> {
  try {
    for await (const parts of router) {
      // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
      const [routingId, , version, requestId, domain, , , mechanism, key] = parts;
      if (!routingId || !requestId) continue;
      const allowed = domain ? zapDomains.get(domain.toString()) : undefined;
      const ok =
        version?.toString() === '1.0' &&
        mechanism?.toString() === 'CURVE' &&
        key?.length === 32 &&
        allowed?.has(z85Encode(key)) === true;
      if (ok) zapStats.accepted++;
      else zapStats.denied++;
      await router.send([
        routingId,
        '',
        '1.0',
        requestId,
        ok ? '200' : '400',
        ok ? 'OK' : 'unknown client key',
        '',
        '',
      ]);
    }
  } catch {
    // the router closed: the async iterator ends or rejects; either way we are done
  }
}
