/**
 * Baseline of the `connections` workload: a bare `ws` server that accepts every upgrade (the
 * client's Authorization header is there, unread: no token check), sends the same first frame as
 * Parley and keeps the socket, with the usual ws heartbeat — one sweep over all sockets per
 * interval that pings each and drops a peer that did not answer the previous ping — so the idle
 * CPU compared with Parley's covers the same protocol pings. What is left is the floor: a socket,
 * its ws state and one entry in a Set.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT);
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 30_000);

const http = createServer((request, response) => {
  response.writeHead(request.url === '/health/ready' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
const alive = new WeakSet<WebSocket>();
wss.on('connection', (socket) => {
  alive.add(socket);
  socket.on('pong', () => alive.add(socket));
  socket.send('{"type":"ready"}');
});

const heartbeat = setInterval(() => {
  for (const socket of wss.clients) {
    if (!alive.delete(socket)) {
      socket.terminate();
      continue;
    }
    socket.ping();
  }
}, heartbeatMs);

http.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  clearInterval(heartbeat);
  for (const socket of wss.clients) socket.terminate();
  http.close(() => process.exit(0));
});
