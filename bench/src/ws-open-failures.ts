/** How a benchmark client's WebSocket fails before it is ready, the same for every load generator. */
import type WebSocket from 'ws';

/**
 * Rejects the opening on a refused upgrade (an HTTP answer instead of 101) or a socket error,
 * clearing its ready timeout. With an 'unexpected-response' listener ws leaves the refused
 * request to us, so the socket is terminated here.
 */
export function rejectOnOpenFailure(socket: WebSocket, timer: NodeJS.Timeout, reject: (error: Error) => void): void {
  socket.once('unexpected-response', (_request, response) => {
    clearTimeout(timer);
    socket.terminate();
    reject(new Error(`upgrade refused: ${response.statusCode}`));
  });
  socket.once('error', (error) => {
    clearTimeout(timer);
    reject(error);
  });
}
