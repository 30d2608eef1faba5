/** What the harness and an idle-client process say to each other over the IPC channel. */

export type FleetRequest =
  /** Opens one socket per header set to `url` from `localAddress`, `concurrency` handshakes at a time. */
  | { id: number; op: 'connect'; url: string; localAddress: string; headers: Array<Record<string, string>>; concurrency: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

export type { ConnectReply } from '../fanout/receiver-protocol.js';

export interface FleetStats {
  /** Sockets open now. */
  open: number;
  /** Frames received since the first connect, of any type (ready, presence…). */
  frames: number;
  /** Milliseconds since the last frame. */
  quietMs: number;
  /** Sockets the server closed after they were ready. */
  closedByServer: number;
}
