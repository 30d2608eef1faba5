/**
 * The process entry point: configuration → Parley → listen, and an orderly stop on SIGTERM/SIGINT.
 * Everything else is built by createParley so that tests run exactly the same wiring.
 */
import { pino } from 'pino';
import { EX_CONFIG, loadConfigOrReport } from './config.js';
import { isWebAppBuild } from './http/web-app.js';
import { loggerOptions } from './observability/logger.js';
import type { Parley } from './parley.js';

async function main(): Promise<void> {
  const config = loadConfigOrReport();
  if (config === null) process.exit(EX_CONFIG);
  const options = loggerOptions(config);
  const log = pino(typeof options === 'object' ? options : {});
  if (config.redis === null) {
    log.warn('REDIS_URL is not set: using the embedded in-memory engine (one node only; data is lost on restart)');
  }

  // Listening for signals before anything starts: in a container node is PID 1, and a signal
  // without a handler would be ignored, so a pod stopped while starting would wait for SIGKILL.
  let parley: Parley | null = null;
  const stop = (signal: NodeJS.Signals) => {
    if (parley === null) {
      // Nothing is served yet, so nothing needs draining.
      log.info({ signal }, 'stopped before listening');
      process.exit(0);
    }
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

  // Loaded only now (most of the code), so the handlers above are in place within milliseconds.
  const { createParley } = await import('./parley.js');
  parley = await createParley(config, { logger: options });
  const url = await parley.listen();
  // A newcomer's first question: where the chat is. `npm start` builds it; a bare image may not have it.
  const webClient = isWebAppBuild(config.webAppDir) ? `${url}/` : 'not built';
  log.info({ url, engine: parley.engine.kind, webClient }, 'Parley is listening');
}

main().catch((error: unknown) => {
  process.stderr.write(`Parley failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
