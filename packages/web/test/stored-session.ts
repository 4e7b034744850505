/** Browser-side session for a user the test harness signed in (for the browser tests and bench/web.ts). */
import type { Page } from 'playwright-core';
import type { TestUser } from '../../server/test/harness.ts';

/** Writes the session into the page's localStorage (the page must be on the app's origin). */
export async function storeSession(page: Page, user: TestUser): Promise<void> {
  await page.evaluate((session) => localStorage.setItem('scanflow.session', JSON.stringify(session)), {
    accessToken: user.token,
    refreshToken: user.refreshToken,
    accessExpiresAt: Date.now() + 600_000,
    user: {
      id: user.id,
      orgId: user.orgId,
      role: user.role,
      clinicianVerified: user.role !== 'patient',
      totpEnabled: user.totpSecret !== null,
      totpEnrolmentRequired: false,
    },
    email: user.email,
  });
}
