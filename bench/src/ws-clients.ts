/** What every load worker's WebSocket clients share: a failed handshake, and closing at the end of a run. */
import WebSocket from 'ws';

/**
 * Closes every socket with a close handshake; one whose server is too busy to answer within 2 s
 * is terminated, so a stuck server never holds the harness.
 */
export async function closeSockets(sockets: Iterable<WebSocket>): Promise<void> {
  await Promise.all(
    [...sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.once('close', () => resolve());
          socket.close();
          setTimeout(() => {
            socket.terminate();
            resolve();
          }, 2000).unref();
        }),
    ),
  );
}

/**
 * Calls `fail` when the handshake fails: the upgrade was refused (an HTTP answer, e.g. 401 or 429)
 * or the connection failed (refused, reset). Later errors of an open socket come here too.
 */
export function onHandshakeFailure(socket: WebSocket, fail: (error: Error) => void): void {
  socket.once('unexpected-response', (_request, response) => {
    socket.terminate(); // with this listener, ws leaves the refused request to us
    fail(new Error(`upgrade refused: ${response.statusCode}`));
  });
  socket.once('error', fail);
}

/**
 * Settles a client's opening: rejects it when the handshake fails or the server closes the socket
 * before `ready` (e.g. 4001 for a bad token: fail now, not at the timeout), clearing its ready
 * timeout; a close after `ready` goes to `closedAfterReady`.
 */
export function settleOpening(
  socket: WebSocket,
  timer: NodeJS.Timeout,
  reject: (error: Error) => void,
  isReady: () => boolean,
  closedAfterReady: (code: number) => void,
): void {
  onHandshakeFailure(socket, (error) => {
    clearTimeout(timer);
    reject(error);
  });
  socket.once('close', (code) => {
    clearTimeout(timer);
    if (!isReady()) reject(new Error(`closed with ${code} before ready`));
    else closedAfterReady(code);
  });
}
