/** What the fan-out workload needs from a system under test: Parley, the bare `ws` baseline or the Socket.IO peer. */
import type { ClientSpec } from './receiver-protocol.js';

export interface FanoutTarget {
  readonly name: 'parley' | 'bare-ws' | 'socket.io';
  /** The group's members, one list per server node (split evenly). */
  readonly clientGroups: ClientSpec[][];
  /** Processes whose CPU time is charged to deliveries (the server nodes). */
  readonly serverPids: number[];
  /** Sends one group message with this text; resolves true once the system accepted it. */
  send(index: number, text: string): Promise<boolean>;
  stop(): Promise<void>;
}

/** Splits `items` over `nodes` round-robin: member i goes to node i mod nodes. */
export function splitEvenly<T>(items: readonly T[], nodes: number): T[][] {
  const groups = Array.from({ length: nodes }, () => [] as T[]);
  items.forEach((item, index) => groups[index % nodes]!.push(item));
  return groups;
}
