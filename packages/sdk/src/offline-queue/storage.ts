/**
 * Where the offline queue keeps its pending messages between page loads. A value is an opaque
 * string the queue writes as a whole; `set` resolving means it is stored (a reload reads it).
 */
export interface QueueStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** Kept in this object only: survives reconnects, not reloads. Share one instance to model a reload in tests. */
export class MemoryQueueStorage implements QueueStorage {
  private readonly values = new Map<string, string>();

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  set(key: string, value: string): void {
    this.values.set(key, value);
  }

  remove(key: string): void {
    this.values.delete(key);
  }
}

/** The Web Storage API's shape (`window.localStorage`, `sessionStorage`). */
export interface WebStorageArea {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Browsers: the queue in `localStorage` (default) survives reloads and restarts. Tabs of one
 * origin share it: a queue keeps the messages other tabs stored, and two tabs sending the same
 * message are harmless (the server keeps one copy per clientMessageId).
 */
export class WebStorageQueueStorage implements QueueStorage {
  constructor(private readonly storage: WebStorageArea = globalThis.localStorage) {}

  get(key: string): string | null {
    return this.storage.getItem(key);
  }

  set(key: string, value: string): void {
    this.storage.setItem(key, value);
  }

  remove(key: string): void {
    this.storage.removeItem(key);
  }
}
