/**
 * The payload the baselines deliver: shaped like Parley's `message.created` frame (same fields in
 * the same order, ids and cursor of the same lengths as observed on a real run — 384 bytes with a
 * 64-byte text), so every system under test moves the same bytes to each member.
 */
export function messageFrame(index: number, text: string) {
  return {
    type: 'message.created',
    message: {
      id: `01BASELINE${String(index).padStart(16, '0')}`,
      conversationId: '01BASELINEGROUP00000000000',
      seq: index + 1,
      senderId: 'u0000',
      system: false,
      text,
      createdAt: new Date().toISOString(),
      editedAt: null,
      deletedAt: null,
      replyTo: null,
      reactions: {},
    },
    cursor: `c2.${String(index).padStart(35, '0')}`,
  };
}
