/**
 * Writes the served v1 OpenAPI document to openapi/v1.json: run `npm run openapi:write` after an
 * additive API change, review the diff, and commit it. The freeze test then holds v1 to it.
 */
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { createParley } from '../parley.js';

const target = new URL('../../../../openapi/v1.json', import.meta.url);
const parley = await createParley(loadConfig({}), { passwordCost: 'test' });
const response = await parley.app.inject({ method: 'GET', url: '/v1/openapi.json' });
writeFileSync(target, `${JSON.stringify(JSON.parse(response.body), null, 2)}\n`);
await parley.shutdown();
console.log(`wrote ${target.pathname}`);
