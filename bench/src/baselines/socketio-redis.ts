/**
 * The fan-out peer: Socket.IO with its Redis adapter, run as two processes like Parley's nodes.
 * Every socket joins one room; the sender POSTs each message to a node (alternating, as with
 * Parley), which emits it to the room — the adapter publishes it through Redis to the other node.
 * Only the websocket transport, no compression: the same wire conditions as the other targets.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { messageFrame } from '../fanout/message-frame.js';

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL ?? '';
const ROOM = 'group';

async function readJson(request: IncomingMessage): Promise<{ index: number; text: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString()) as { index: number; text: string };
}

const http = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/health/ready') return void response.writeHead(200).end();
  if (request.method !== 'POST' || request.url !== '/send') return void response.writeHead(404).end();
  readJson(request).then(
    ({ index, text }) => {
      io.to(ROOM).emit('message', messageFrame(index, text));
      response.writeHead(201).end();
    },
    () => response.writeHead(400).end(),
  );
});

const publisher = new Redis(redisUrl);
const subscriber = publisher.duplicate();
const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  adapter: createAdapter(publisher, subscriber),
});
io.on('connection', (socket) => {
  // Tells the client it is in the room (the first frame every target sends is a `ready`).
  Promise.resolve(socket.join(ROOM)).then(
    () => socket.emit('ready'),
    () => socket.disconnect(true),
  );
});

http.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  const exit = () => {
    publisher.disconnect();
    subscriber.disconnect();
    process.exit(0);
  };
  io.close().then(exit, exit);
});
