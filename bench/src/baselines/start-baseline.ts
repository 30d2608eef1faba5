/** Starts one of the baseline servers (compiled next to this file) on a free loopback port. */
import { fileURLToPath } from 'node:url';
import { startHttpProcess, type HttpProcess } from '../processes.js';

export type BaselineServer = HttpProcess;

export function startBaseline(
  script: 'bare-fastify' | 'bare-ws-broadcast' | 'bare-ws-idle' | 'socketio-redis',
  name: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<BaselineServer> {
  return startHttpProcess(name, fileURLToPath(new URL(`./${script}.js`, import.meta.url)), env, { nodeArgs });
}
