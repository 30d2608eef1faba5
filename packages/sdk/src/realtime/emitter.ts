/** A tiny typed event emitter (no Node `events`: the SDK runs in browsers). */
export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener as Listener<never>);
  }

  /**
   * Calls the listeners in subscription order. A listener that throws does not stop the others
   * nor the connection: the error is reported asynchronously, as an uncaught error would be.
   */
  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.listeners.get(name);
    if (set) callEach(set as Set<Listener<Events[K]>>, payload);
  }
}

/** Reports a listener's error as an uncaught one, without interrupting the caller. */
export const reportAsynchronously = (error: unknown): void =>
  queueMicrotask(() => {
    throw error;
  });

/**
 * Calls each listener (those subscribed when the call began) with `payload`. A listener that
 * throws does not stop the others nor the caller: its error goes to `report`.
 */
export function callEach<T>(listeners: Iterable<Listener<T>>, payload: T, report: (error: unknown) => void = reportAsynchronously): void {
  for (const listener of [...listeners]) {
    try {
      listener(payload);
    } catch (error) {
      report(error);
    }
  }
}
