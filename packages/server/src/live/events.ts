/**
 * The live channel's events (SPEC C1), as the database records them (live_events, written by the
 * triggers in 0008_collaboration.sql) and as clients receive them. A row carries identifiers only;
 * `describe` turns it into what a client sees, loading and decrypting a message's or an
 * annotation's text once per event, not once per client.
 */
import type { AppContext } from '../context.ts';
import { withScope, withSystem } from '../db/scope.ts';
import { findAnnotation } from '../services/annotation-service.ts';
import { findMessage, findSecondOpinion } from '../services/discussion-service.ts';
import type { ScanStatus } from '@scanflow/domain';

export const LIVE_CHANNEL = 'scanflow_live';

export const LIVE_KINDS = [
  'scan.status',
  'scan.urgent',
  'discussion.message',
  'annotation.changed',
  'second_opinion.changed',
] as const;
export type LiveKind = (typeof LIVE_KINDS)[number];

export interface LiveEventRow {
  id: number;
  org_id: string;
  kind: LiveKind;
  data: {
    scanId: string;
    status: ScanStatus;
    patientUserId: string | null;
    previousStatus?: ScanStatus | null;
    version?: number;
    priority?: string | null;
    messageId?: string;
    annotationId?: string;
    requestId?: string;
  };
  at: string;
}

/** An event ready to send: the facts the policy filters on, and the frame (serialised and UTF-8 encoded once, for every client). */
export interface LiveEvent {
  id: number;
  orgId: string;
  kind: LiveKind;
  scan: { status: ScanStatus; patientUserId: string | null };
  frame: Buffer;
}

const COLUMNS = `id, org_id, kind, data, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`;

/** Events after `afterId`, oldest first (ids are gap-free and in commit order). Read as the system. */
export async function eventsAfter(ctx: AppContext, afterId: number, limit: number): Promise<LiveEventRow[]> {
  const { rows } = await withSystem(ctx.db, (tx) =>
    tx.query<LiveEventRow>(`SELECT ${COLUMNS} FROM live_events WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit]),
  );
  return rows;
}

/** The newest committed event id, and the oldest still kept (null when none is). */
export async function eventBounds(ctx: AppContext): Promise<{ latest: number; oldest: number | null }> {
  const { rows } = await withSystem(ctx.db, (tx) =>
    tx.query<{ latest: number; oldest: number | null }>(
      `SELECT (SELECT last_id FROM live_event_counter) AS latest, (SELECT min(id) FROM live_events) AS oldest`,
    ),
  );
  return { latest: Number(rows[0]!.latest), oldest: rows[0]!.oldest === null ? null : Number(rows[0]!.oldest) };
}

/** Forgets events older than the retention: a client away longer is told to reload instead. */
export async function pruneEvents(ctx: AppContext, retentionSeconds: number): Promise<void> {
  await withSystem(ctx.db, (tx) =>
    tx.query(`DELETE FROM live_events WHERE at < now() - make_interval(secs => $1::int)`, [retentionSeconds]),
  );
}

/** What a client receives for the event (the message, annotation or request as it now stands). */
export async function describe(ctx: AppContext, row: LiveEventRow): Promise<LiveEvent> {
  const { scanId, status, patientUserId } = row.data;
  // A status change carries all it says; only the collaboration events read what they name (and
  // only they open a transaction: a full AI queue makes a status event per scan).
  const data =
    row.kind === 'scan.status' || row.kind === 'scan.urgent'
      ? {
          scanId,
          status,
          previousStatus: row.data.previousStatus ?? null,
          version: row.data.version ?? null,
          priority: row.data.priority ?? null,
        }
      : await withScope(ctx.db, { orgId: row.org_id, userId: null, dbRole: 'system' }, async (tx) => {
          switch (row.kind) {
            case 'discussion.message':
              return { scanId, message: await findMessage(tx, ctx.cipher, row.data.messageId!) };
            case 'annotation.changed':
              return { scanId, annotation: await findAnnotation(tx, ctx.cipher, row.data.annotationId!) };
            case 'second_opinion.changed':
              return { scanId, request: await findSecondOpinion(tx, ctx.cipher, row.data.requestId!) };
            case 'scan.status':
            case 'scan.urgent':
              throw new Error('unreachable: status events are described without the database');
          }
        });
  return {
    id: row.id,
    orgId: row.org_id,
    kind: row.kind,
    scan: { status, patientUserId },
    frame: Buffer.from(JSON.stringify({ type: 'event', id: row.id, kind: row.kind, at: row.at, data })),
  };
}
