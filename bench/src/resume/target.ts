/** What the resume workload needs from a system under test: Parley's two nodes, or two bare `ws` servers. */
import type { ResumeClientSpec } from './protocol.js';

export interface ResumeTarget {
  readonly name: 'parley' | 'bare-ws';
  readonly clients: ResumeClientSpec[];
  /** WebSocket URLs of the node the clients start on (killed) and of the survivor. */
  readonly firstUrl: string;
  readonly survivorUrl: string;
  /** The survivor's process, whose CPU time the reconnect storm is charged. */
  readonly survivorPid: number;
  /** Sends `perConversation` messages to every conversation through the first node (or the survivor); resolves with the seqs assigned. */
  send(perConversation: number, through: 'first' | 'survivor'): Promise<Record<string, number[]>>;
  /** `kill -9` of the first node; resolves once it is gone. */
  killFirst(): Promise<void>;
  stop(): Promise<void>;
}
