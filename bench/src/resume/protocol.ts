/** What the main thread and a resume client worker say to each other (structured-clone messages). */

/** One simulated user: its token and the conversation (group) whose messages it must receive. */
export interface ResumeClientSpec {
  token: string;
  conversationId: string;
}

export interface ResumeWorkerData {
  clients: ResumeClientSpec[];
  /** Source addresses (127.0.0.2, …) the clients bind to in turn, so 10k sockets never run short of ports. */
  localAddresses: string[];
}

export type ResumeRequest =
  /**
   * Opens every client to `url` (ws://…/path), at most `concurrency` handshakes at once; with
   * `withCursor`, each passes the last cursor it received as `?cursor=`. Resolves once every client
   * got its `ready` frame or failed.
   */
  | { id: number; op: 'connect'; url: string; withCursor: boolean; concurrency: number; timeoutMs: number }
  /** The seqs each conversation must have delivered to each of its members: a client is caught up once it has them all. */
  | { id: number; op: 'expect'; seqs: Record<string, number[]> }
  | { id: number; op: 'stats' }
  /** Resolves once every socket is closed (the server was killed), or after `timeoutMs`. */
  | { id: number; op: 'await-closed'; timeoutMs: number }
  | { id: number; op: 'report' }
  | { id: number; op: 'close' };

export interface ResumeConnectReply {
  connected: number;
  /** Clients that never got `ready` within their attempts. */
  failed: number;
  /** Failed handshakes, retried ones included. */
  errors: number;
  firstError: string | null;
}

export interface ResumeStatsReply {
  open: number;
  /** Clients holding every expected seq (after their `ready`). */
  caughtUp: number;
  /** When the last of them caught up (monoMs); null while none has. */
  lastCaughtUpAt: number | null;
  /** Frames of any type since the worker started, and monoMs of the latest. */
  frames: number;
  lastFrameAt: number;
}

export interface ResumeReport {
  clients: number;
  /** Expected (client, seq) pairs never received. */
  lost: number;
  /** Clients with at least one lost message. */
  clientsWithLoss: number;
  /** (client, seq) pairs received more than once. */
  duplicates: number;
  /** Durable frames of a seq nobody sent in the client's conversation (or of another conversation). */
  unexpected: number;
  resyncs: number;
  /** Sockets the server closed after `ready`, by code (a killed server's show as 1006). */
  closes: Record<string, number>;
}
