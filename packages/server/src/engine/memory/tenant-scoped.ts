import type { TenantId } from '../../domain/types.js';

/**
 * One state object per tenant, so isolation is structural: a store can only reach another
 * tenant's data by naming that tenant. Reads never create a tenant's state; writes do.
 */
export class TenantScoped<T> {
  private readonly byTenant = new Map<TenantId, T>();

  constructor(private readonly createState: () => T) {}

  read(tenantId: TenantId): T | undefined {
    return this.byTenant.get(tenantId);
  }

  /** Every tenant's state created so far (for deployment-wide listings). */
  entries(): [TenantId, T][] {
    return [...this.byTenant.entries()];
  }

  write(tenantId: TenantId): T {
    let state = this.byTenant.get(tenantId);
    if (!state) {
      state = this.createState();
      this.byTenant.set(tenantId, state);
    }
    return state;
  }
}
