/**
 * The optional Origin allow-list of the realtime endpoints (REALTIME_ORIGINS). A browser sends
 * the page's Origin with every WebSocket upgrade and EventSource request, and lets any page open
 * one to any server, carrying the user's token if the page has it (access_token in the URL): the
 * allow-list keeps other sites' pages out. Requests without an Origin are let in: native apps,
 * servers and command-line clients send none, and a browser cannot be made to omit it.
 */
import { ServiceError } from '../services/service-error.js';

/** True when `origin` may open a realtime connection under `allowed` (null: no allow-list). */
export function isOriginAllowed(allowed: readonly string[] | null, origin: string | undefined): boolean {
  return allowed === null || origin === undefined || allowed.includes(origin);
}

/** Throws 403 forbidden when `origin` may not open a realtime connection. */
export function requireAllowedOrigin(allowed: readonly string[] | null, origin: string | undefined): void {
  if (!isOriginAllowed(allowed, origin)) throw new ServiceError('forbidden', 'This origin may not open realtime connections');
}
