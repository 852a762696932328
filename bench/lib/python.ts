/**
 * Debian's Python with python3-zmq and python3-msgpack: what the Python robot client
 * (examples/python) and bench/zmq_probe.py need. Debian installs them for /usr/bin/python3 (a pyenv
 * python3 may come first on PATH), so that is the interpreter checked and used.
 */
import { spawnSync } from 'node:child_process';

export const python = '/usr/bin/python3';

/** Why the Python client cannot run on this machine, or undefined when it can. */
export function pythonZmqMissing(): string | undefined {
  const check = spawnSync(python, ['-c', 'import zmq, msgpack'], { encoding: 'utf8' });
  if (check.error) return `${python} not found`;
  if (check.status !== 0) {
    return `${python} lacks python3-zmq or python3-msgpack (apt install python3-zmq python3-msgpack)`;
  }
  return undefined;
}
