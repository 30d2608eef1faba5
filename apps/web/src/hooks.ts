import { useEffect, useState } from 'preact/hooks';

/** Anything that tells of its changes: the SDK's store, the user directory, an event adapter. */
export interface Subscribable {
  subscribe(listener: () => void): () => void;
}

/**
 * Re-renders the component after every change of `sources` (the SDK's store hands out the same
 * objects until something changes, so components simply read it while rendering).
 */
export function useChanges(...sources: Subscribable[]): void {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const rerender = () => setVersion((version) => version + 1);
    const stops = sources.map((source) => source.subscribe(rerender));
    return () => stops.forEach((stop) => stop());
  }, sources);
}

/** Formats a message time as the user's clock shows it. */
export function timeOf(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
