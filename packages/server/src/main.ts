/**
 * The process entry point: configuration → Parley → listen, and an orderly stop on SIGTERM/SIGINT.
 * Everything else is built by createParley so that tests run exactly the same wiring.
 */
import { pino } from 'pino';
import { EX_CONFIG, loadConfigOrReport } from './config.js';
import { loggerOptions } from './observability/logger.js';
import { createParley } from './parley.js';

async function main(): Promise<void> {
  const config = loadConfigOrReport();
  if (config === null) process.exit(EX_CONFIG);
  const options = loggerOptions(config);
  const log = pino(typeof options === 'object' ? options : {});
  if (config.redis === null) {
    log.warn('REDIS_URL is not set: using the embedded in-memory engine (one node only; data is lost on restart)');
  }

  const parley = await createParley(config, { logger: options });
  const url = await parley.listen();
  log.info({ url, engine: parley.engine.kind }, 'Parley is listening');

  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down: draining requests');
    const forced = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    forced.unref();
    parley.shutdown().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`Parley failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
