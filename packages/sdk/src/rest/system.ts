/** The public operations: health, server info, metrics and the built-in provider's published keys. */
import { ParleyError } from '../errors.js';
import { expectData, type ParleyApi } from '../http.js';
import type { Health, Jwks, OpenIdConfiguration, Readiness, ServerInfo } from './types.js';

export interface SystemApi {
  /** The process is up. */
  live(): Promise<Health>;
  /** Whether the server can reach its storage: `ready: false` (and the reason) when it answered 503. */
  ready(): Promise<Readiness>;
  /** Version, engine and uptime. */
  info(): Promise<ServerInfo>;
  /** Prometheus metrics, in the text exposition format. */
  metrics(): Promise<string>;
  /** The public keys that sign built-in access tokens. */
  jwks(): Promise<Jwks>;
  /** Issuer metadata of the built-in provider. */
  openIdConfiguration(): Promise<OpenIdConfiguration>;
}

export function systemApi(api: ParleyApi): SystemApi {
  return {
    live: () => expectData(api.GET('/health/live')),
    async ready() {
      const { data, error, response } = await api.GET('/health/ready');
      if (response.ok && data) return { ...data, ready: true };
      // 503 is an answer here, not a failure: "not ready, and why".
      if (response.status === 503 && typeof error === 'object' && error !== null) return { ...(error as Health), ready: false };
      throw ParleyError.fromResponse(response, error);
    },
    info: () => expectData(api.GET('/info')),
    metrics: () => expectData(api.GET('/metrics', { parseAs: 'text' })),
    jwks: async () => (await expectData(api.GET('/.well-known/jwks.json'))) as unknown as Jwks,
    openIdConfiguration: async () => (await expectData(api.GET('/.well-known/openid-configuration'))) as unknown as OpenIdConfiguration,
  };
}
