/** One HTTP request over a keep-alive agent, resolving with the status once the answer was read. */
import { request as httpRequest, type Agent, type OutgoingHttpHeaders } from 'node:http';

export interface RequestSpec {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export interface Endpoint {
  host: string;
  port: number;
}

/** Parses a base URL and refuses anything but loopback: benchmark traffic never leaves the machine. */
export function loopbackEndpoint(baseUrl: string): Endpoint {
  const url = new URL(baseUrl);
  if (url.hostname !== '127.0.0.1') throw new Error(`benchmark traffic stays on 127.0.0.1; refusing ${url.hostname}`);
  return { host: url.hostname, port: Number(url.port) };
}

/** Rejects after `timeoutMs` without an answer, so no load loop can hang on a stuck server. */
export function sendRequest(agent: Agent, endpoint: Endpoint, spec: RequestSpec, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        agent,
        host: endpoint.host,
        port: endpoint.port,
        method: spec.method,
        path: spec.path,
        headers: { ...spec.headers, 'content-length': spec.body.length },
        timeout: timeoutMs,
      },
      (response) => {
        response.resume(); // the body is not needed, but must be read for the socket to be reused
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', reject);
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.once('error', reject);
    outgoing.end(spec.body);
  });
}
