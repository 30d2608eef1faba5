/**
 * The soak's resource readings: per Parley node its RSS and open file descriptors from /proc (what
 * the kernel charges it, not what the process believes) and, from its /metrics, heap used, the
 * event loop's p99 lag and its open realtime connections; Redis's `used_memory` from INFO.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export interface NodeReading {
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopLagP99Ms: number;
  realtimeConnections: number;
  openFds: number;
}

/** The sum of every series of `name` (labels or none) in a Prometheus text exposition; NaN when absent. */
export function metricValue(text: string, name: string): number {
  let total = Number.NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      total = (Number.isNaN(total) ? 0 : total) + value;
    }
  }
  return total;
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmRSS:'));
  // "VmRSS:   123456 kB"
  return line === undefined ? Number.NaN : Number(line.split(/\s+/)[1]) * 1024;
}

export async function readNode(url: string, pid: number): Promise<NodeReading> {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}/metrics: ${response.status}`);
  return {
    rssBytes: rssBytes(pid),
    heapUsedBytes: metricValue(text, 'parley_nodejs_heap_size_used_bytes'),
    eventLoopLagP99Ms: metricValue(text, 'parley_nodejs_eventloop_lag_p99_seconds') * 1000,
    realtimeConnections: metricValue(text, 'parley_realtime_connections'),
    openFds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const line = info.split('\r\n').find((entry) => entry.startsWith('used_memory:'));
  return line === undefined ? Number.NaN : Number(line.slice('used_memory:'.length));
}
