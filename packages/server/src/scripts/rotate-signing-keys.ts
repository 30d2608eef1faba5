/**
 * `npm run signing-keys:rotate`: rotates the signing key of built-in access tokens from the
 * command line, with the environment of a node (REDIS_URL, REDIS_KEY_PREFIX, PARLEY_ADMIN_KEY...).
 * It builds the same wiring as a node, without listening, and calls the operator endpoint on it,
 * so the rotation, its announcement to every running node and its limits are the endpoint's own.
 * Prints the endpoint's JSON answer; exits 1 (with the problem) when it is refused.
 */
import { EX_CONFIG, loadConfigOrReport } from '../config.js';
import { createParley } from '../parley.js';

async function main(): Promise<number> {
  const config = loadConfigOrReport();
  if (config === null) return EX_CONFIG;
  if (config.redis === null) {
    process.stderr.write('REDIS_URL is not set: an embedded node keeps its keys in its own memory; call POST /v1/admin/signing-keys/rotate on it instead\n');
    return EX_CONFIG;
  }
  if (!config.adminKey) {
    process.stderr.write('PARLEY_ADMIN_KEY is not set: rotation is an operator action\n');
    return EX_CONFIG;
  }
  const parley = await createParley(config);
  try {
    const response = await parley.app.inject({
      method: 'POST',
      url: '/v1/admin/signing-keys/rotate',
      headers: { authorization: `Bearer ${config.adminKey}` },
    });
    (response.statusCode === 201 ? process.stdout : process.stderr).write(`${response.body}\n`);
    return response.statusCode === 201 ? 0 : 1;
  } finally {
    await parley.shutdown();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`Rotation failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
