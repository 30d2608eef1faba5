/** Starts one of the baseline servers (compiled next to this file) on a free loopback port. */
import { fileURLToPath } from 'node:url';
import { freePort } from '../ports.js';
import { startProcess, waitForHttp, type Managed } from '../processes.js';

export interface BaselineServer {
  readonly url: string;
  readonly port: number;
  readonly process: Managed;
}

export async function startBaseline(
  script: 'bare-fastify' | 'bare-ws-broadcast' | 'bare-ws-idle' | 'socketio-redis',
  name: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<BaselineServer> {
  const file = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
  const port = await freePort();
  const managed = startProcess(name, process.execPath, [...nodeArgs, file], { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(managed, `${url}/health/ready`);
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return { url, port, process: managed };
}
