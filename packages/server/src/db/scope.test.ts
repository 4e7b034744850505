import { describe, expect, it } from 'vitest';
import { scopePreamble } from './scope.ts';

const org = '0b6f3c1e-8d2a-4f51-9a43-3c2f1d7e9b10';

describe('scope preamble', () => {
  it('binds organisation, user and role as transaction-local settings, then drops privileges', () => {
    const sql = scopePreamble({ orgId: org, userId: null, dbRole: 'system' });
    expect(sql).toContain(`set_config('app.org', '${org}', true)`);
    expect(sql).toContain(`set_config('app.user', '', true)`);
    expect(sql).toContain(`set_config('role', 'scanflow_app', true)`);
  });

  it.each([
    { orgId: `${org}'; DROP TABLE scans; --`, userId: null, dbRole: 'admin' },
    { orgId: org, userId: "x' OR '1'='1", dbRole: 'admin' },
    { orgId: org, userId: null, dbRole: "admin', true); --" },
    { orgId: org.toUpperCase(), userId: null, dbRole: 'admin' },
  ])('refuses anything that is not exactly a UUID and a known role: %j', (scope) => {
    expect(() => scopePreamble(scope as never)).toThrow(/malformed scope/);
  });
});
