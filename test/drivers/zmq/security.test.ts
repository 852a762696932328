/**
 * Binding beyond loopback: refused without CURVE keys (with a message that says what to add); with
 * keys, an authorised client talks to engram and an unknown key is turned away by the ZAP handler.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { curveKeyPair } from 'zeromq';
import { EngramClient } from '../../../drivers/zmq/client.js';
import { ZmqDriver } from '../../../drivers/zmq/driver.js';
import { isLocalEndpoint, readKeyFile, z85Encode, zapStats } from '../../../drivers/zmq/security.js';
import { systemClock } from '../../../runtime/clock.js';
import { type ChannelSpec, createFrame, Status } from '../../../runtime/contracts.js';
import { closeTracked, track, waitFor } from './helpers.js';

const channels: ChannelSpec[] = [{ name: 'x', size: 2, maxAgeMs: 0 }];
const dir = mkdtempSync(join(tmpdir(), 'engram-curve-'));

test('which endpoints count as local', () => {
  assert.ok(isLocalEndpoint('tcp://127.0.0.1:5555'));
  assert.ok(isLocalEndpoint('tcp://127.0.0.1:*'));
  assert.ok(isLocalEndpoint('tcp://localhost:5555'));
  assert.ok(isLocalEndpoint('tcp://[::1]:5555'));
  assert.ok(isLocalEndpoint('ipc:///tmp/engram'));
  assert.not.ok(isLocalEndpoint('tcp://0.0.0.0:5555'));
  assert.not.ok(isLocalEndpoint('tcp://*:5555'));
  assert.not.ok(isLocalEndpoint('tcp://eth0:5555'));
  assert.not.ok(isLocalEndpoint('tcp://192.168.1.10:5555'));
  assert.not.ok(isLocalEndpoint('tcp://127.0.0.1.evil.com:5555'));
});

test('z85 encodes the RFC 32 test vector', () => {
  const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  assert.is(z85Encode(bytes), 'HelloWorld');
});

test('binding beyond loopback without keys is refused, saying what to configure', () => {
  try {
    new ZmqDriver({
      config: { frames: 'tcp://0.0.0.0:5555', actions: 'tcp://127.0.0.1:5556', maxMessageBytes: 1024 },
      channels,
      actionSize: 1,
      clock: systemClock,
    });
    assert.unreachable('should refuse');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, /refusing to bind tcp:\/\/0\.0\.0\.0:5555 without encryption/);
    assert.match(message, /serverSecretKeyFile/);
    assert.match(message, /authorizedClientsFile/);
  }
});

test('a key file that is not z85 is refused at start', () => {
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'this is not a key\n');
  assert.throws(() => readKeyFile(bad), /not a 40-character z85 key/);
  const empty = join(dir, 'empty.key');
  writeFileSync(empty, '# nobody\n');
  assert.throws(
    () =>
      new ZmqDriver({
        config: {
          frames: 'tcp://0.0.0.0:*',
          actions: 'tcp://0.0.0.0:*',
          maxMessageBytes: 1024,
          curve: { serverSecretKeyFile: join(dir, 'missing.key'), authorizedClientsFile: empty },
        },
        channels,
        actionSize: 1,
        clock: systemClock,
      }),
    /cannot read CURVE key file .*missing\.key/,
  );
});

test('with CURVE: an authorised client is welcomed and heard; an unknown key gets nothing', async () => {
  const server = curveKeyPair();
  const friend = curveKeyPair();
  const stranger = curveKeyPair();
  const secretFile = join(dir, 'engram.key_secret');
  const clientsFile = join(dir, 'authorized_clients');
  writeFileSync(
    secretFile,
    `# engram\nmetadata\ncurve\n    public-key = "${server.publicKey}"\n    secret-key = "${server.secretKey}"\n`,
  );
  writeFileSync(clientsFile, `# robots allowed to connect\n${friend.publicKey}\n`);
  const driver = track(
    new ZmqDriver({
      config: {
        frames: 'tcp://0.0.0.0:*',
        actions: 'tcp://0.0.0.0:*',
        maxMessageBytes: 1024,
        curve: { serverSecretKeyFile: secretFile, authorizedClientsFile: clientsFile },
      },
      channels,
      actionSize: 1,
      clock: systemClock,
    }),
  );
  await driver.start();
  const bound = driver.boundEndpoints();
  const loopback = {
    frames: bound.frames.replace('0.0.0.0', '127.0.0.1'),
    actions: bound.actions.replace('0.0.0.0', '127.0.0.1'),
  };
  const deniedBefore = zapStats.denied;
  const intruder = track(
    new EngramClient({
      ...loopback,
      channels: [{ name: 'x', size: 2 }],
      actionSize: 1,
      curve: { serverPublicKey: server.publicKey, publicKey: stranger.publicKey, secretKey: stranger.secretKey },
    }),
  );
  try {
    await intruder.connect(600);
    assert.unreachable('an unknown key must not be welcomed');
  } catch (error) {
    assert.match((error as Error).message, /no welcome/);
  }
  assert.ok(zapStats.denied > deniedBefore, 'the ZAP handler denied the unknown key');
  assert.is(driver.activeSession(), -1);

  const robot = track(
    new EngramClient({
      ...loopback,
      channels: [{ name: 'x', size: 2 }],
      actionSize: 1,
      curve: { serverPublicKey: server.publicKey, publicKey: friend.publicKey, secretKey: friend.secretKey },
    }),
  );
  await robot.connect();
  robot.sendFrame({ x: [1.5, -1.5] });
  const frame = createFrame(2);
  await waitFor(() => driver.poll(frame) === Status.ok, 'the authorised frame');
  assert.equal(Array.from(frame.observation), [1.5, -1.5]);
});

test.after.each(closeTracked);
test.run();
