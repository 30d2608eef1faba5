/**
 * Times every storage call, whatever the engine (memory, Redis, Cluster), without touching the
 * stores: the engine and each of its stores are seen through a Proxy whose asynchronous methods
 * observe `parley_engine_call_duration_seconds{store,method}` and count rejections in
 * `parley_engine_call_errors_total{store,method}`. A new store or method is measured as soon as it
 * exists. Synchronous methods (pubsub.createSubscriber, key names) are passed through untimed.
 */
import type { Engine } from '../engine/engine.js';
import type { Metrics } from './metrics.js';

type AnyFunction = (...args: unknown[]) => unknown;

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

/**
 * The engine, measured. Methods run with their own store as `this` (never the Proxy), so classes
 * with private state behave exactly as unwrapped; wrapped methods and stores are made once and
 * cached, so a call costs two clock reads and one histogram observation.
 */
export function measureEngine<E extends Engine>(engine: E, metrics: Metrics): E {
  return measured(engine, 'engine', metrics, true);
}

function measured<T extends object>(target: T, store: string, metrics: Metrics, wrapStores: boolean): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof property !== 'string') return value;
      const cached = cache.get(property);
      if (cached !== undefined) return cached;
      let wrapped: unknown;
      if (typeof value === 'function') wrapped = timed(value as AnyFunction, object, store, property, metrics);
      else if (wrapStores && typeof value === 'object' && value !== null) wrapped = measured(value, property, metrics, false);
      else return value;
      cache.set(property, wrapped);
      return wrapped;
    },
  });
}

function timed(method: AnyFunction, self: object, store: string, name: string, metrics: Metrics): AnyFunction {
  // Resolved at the first asynchronous call: a synchronous method never shows as a series.
  let children: { duration: ReturnType<Metrics['engineCallDuration']['labels']>; errors: ReturnType<Metrics['engineCallErrors']['labels']> } | undefined;
  return (...args: unknown[]) => {
    const started = performance.now();
    const result = method.apply(self, args);
    if (!isThenable(result)) return result;
    if (!children) {
      children = { duration: metrics.engineCallDuration.labels(store, name), errors: metrics.engineCallErrors.labels(store, name) };
      // The error series exists (at 0) from the first call: an error rate is 0, not "no data".
      children.errors.inc(0);
    }
    const { duration, errors } = children;
    return Promise.resolve(result).then(
      (value) => {
        duration.observe((performance.now() - started) / 1000);
        return value;
      },
      (error: unknown) => {
        duration.observe((performance.now() - started) / 1000);
        errors.inc();
        throw error;
      },
    );
  };
}
