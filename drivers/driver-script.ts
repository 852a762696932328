/**
 * A Node script to run as a child process, named relative to the calling module: the `.ts` source
 * through tsx when the caller runs from source, the built `.js` beside it otherwise.
 */
import { fileURLToPath } from 'node:url';

export interface NodeScript {
  /** the script's file */
  readonly path: string;
  /** Node options that must come before `path` (the TypeScript loader when run from source) */
  readonly nodeArgs: readonly string[];
}

/** `stem` is relative to `callerUrl` (import.meta.url) and has no extension: './server', '../drivers/zmq/probe'. */
export function nodeScript(callerUrl: string, stem: string): NodeScript {
  const fromSource = fileURLToPath(callerUrl).endsWith('.ts');
  return {
    path: fileURLToPath(new URL(`${stem}.${fromSource ? 'ts' : 'js'}`, callerUrl)),
    nodeArgs: fromSource ? ['--import', 'tsx'] : [],
  };
}
