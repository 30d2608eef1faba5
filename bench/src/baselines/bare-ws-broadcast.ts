/**
 * Baseline of the `fanout` workload ("the limit"), run as two processes like Parley's two nodes:
 * a bare `ws` server that subscribes to one Redis channel and writes every published payload, as
 * is, to each of its sockets. No auth, no per-member routing, no storage, no cursor: what is left
 * is Redis pub/sub plus WebSocket framing, the floor under any fan-out built on them.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL ?? '';
const channel = process.env.BENCH_CHANNEL ?? 'bench:fanout';

const sockets = new Set<WebSocket>();
const http = createServer((request, response) => {
  response.writeHead(request.url === '/health/ready' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  // The same first frame as Parley, so one client implementation serves both.
  socket.send('{"type":"ready"}');
});

const subscriber = new Redis(redisUrl);
await subscriber.subscribe(channel);
subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => {
  // A Buffer is written as is (text frame below): no per-socket copy or serialisation.
  for (const socket of sockets) socket.send(payload, { binary: false });
});

http.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  for (const socket of sockets) socket.terminate();
  subscriber.disconnect();
  http.close(() => process.exit(0));
});
