/**
 * Baseline of the `send` workload, run as its own process: a bare Fastify route at the same path
 * that parses the same JSON body and answers 201 with a message-shaped body of the same size as
 * Parley's (so both runs move the same bytes) — no authentication, no validation, no storage.
 * What Parley adds on top of this is the cost of being a messaging server rather than HTTP.
 */
import Fastify from 'fastify';

const port = Number(process.env.PORT);
const app = Fastify({ logger: false });
let seq = 0;

app.post<{ Params: { conversationId: string }; Body: { text?: unknown } }>('/v1/conversations/:conversationId/messages', async (request, reply) => {
  seq += 1;
  const now = new Date().toISOString();
  return reply.code(201).send({
    id: `01BASELINE${String(seq).padStart(16, '0')}`,
    conversationId: request.params.conversationId,
    seq,
    senderId: 'u0000',
    text: typeof request.body?.text === 'string' ? request.body.text : '',
    createdAt: now,
    editedAt: null,
    deletedAt: null,
    replyTo: null,
    reactions: {},
  });
});
app.get('/health/ready', async () => ({ status: 'ok' }));

await app.listen({ host: '127.0.0.1', port });
process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
