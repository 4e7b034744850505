/**
 * First start with an empty database: a demo organisation with one account per role, so that
 * `npm start` gives something to sign in to. Passwords are random and printed once by the caller;
 * the admin's TOTP secret too. Nothing here goes to the logs.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import { UserService } from './user-service.ts';
import { withScope } from '../db/scope.ts';
import { insertPeer } from '../repositories/dicom-peers.ts';

export interface DemoAccount {
  role: Role;
  email: string;
  password: string;
  otpauthUri: string | null;
}

export const DEMO_ORGANISATION = 'demo';
/** The calling AE title the demo accepts, so `storescu -aet STORESCU localhost 11112 file.dcm` works at once. */
export const DEMO_DICOM_PEER = 'STORESCU';

export async function seedDemoIfEmpty(ctx: AppContext): Promise<DemoAccount[] | null> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM organisations');
  if (Number(rows[0]?.n) > 0) return null;
  const users = new UserService(ctx);
  const people: { role: Role; name: string; dateOfBirth?: string }[] = [
    { role: 'admin', name: 'Ada Admin' },
    { role: 'doctor', name: 'Dr Devi Raman' },
    { role: 'pharmacist', name: 'Priya Pharmacist' },
    { role: 'patient', name: 'Pat Example', dateOfBirth: '1980-04-12' },
  ];
  const accounts: DemoAccount[] = [];
  let orgId = '';
  for (const person of people) {
    const email = `${person.role}@demo.scanflow.test`;
    const password = randomBytes(12).toString('base64url');
    const created = await users.createAsOperator({
      organisation: DEMO_ORGANISATION,
      email,
      name: person.name,
      role: person.role,
      password,
      dateOfBirth: person.dateOfBirth,
    });
    accounts.push({ role: person.role, email, password, otpauthUri: created.otpauthUri });
    orgId = created.orgId;
  }
  await withScope(ctx.db, { orgId, userId: null, dbRole: 'system' }, (tx) =>
    insertPeer(tx, {
      orgId,
      aeTitle: DEMO_DICOM_PEER,
      addresses: ['127.0.0.1', '::1'],
      description: 'Demo sender (DCMTK storescu on this machine)',
      createdBy: null,
    }),
  );
  await ctx.db.query(`UPDATE organisations SET name = 'Demo Hospital (synthetic data)' WHERE slug = $1`, [
    DEMO_ORGANISATION,
  ]);
  return accounts;
}
