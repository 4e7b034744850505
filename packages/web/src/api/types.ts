/**
 * The shapes the Scanflow API sends, as the web app uses them. They mirror the server's response
 * schemas (packages/server/src/http/schemas.ts and routes/*); the OpenAPI document at
 * /api/openapi.json is the reference.
 */
import type { GeometryInput, Prescription, Role, ScanStatus } from '@scanflow/domain';

export type { Prescription, PrescriptionItem, Role, ScanStatus } from '@scanflow/domain';

export type Priority = 'HIGH' | 'ROUTINE';

export interface SignedInUser {
  id: string;
  orgId: string;
  role: Role;
  clinicianVerified: boolean;
  totpEnabled: boolean;
  totpEnrolmentRequired: boolean;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export type LoginResult =
  | ({ status: 'signed_in'; user: SignedInUser } & Tokens)
  | { status: 'second_factor_required'; challenge: string; methods: string[] };

export type SignedIn = Extract<LoginResult, { status: 'signed_in' }>;

export interface RegisterInput {
  organisation: string;
  email: string;
  password: string;
  name: string;
  role: 'patient' | 'doctor' | 'pharmacist';
  licenceNumber?: string;
  licenceJurisdiction?: string;
  dateOfBirth?: string;
}

export interface AiLabel {
  id: string;
  display: string;
  probability: number;
}

export interface AiResult {
  model: { name: string; version: string };
  labels: AiLabel[];
  topFinding: AiLabel | null;
  uncertain: boolean;
  priorityScore: number;
  priority: Priority;
  disclaimer: string;
  heatmap?: { label: string; sha256?: string } | null;
  /** Which run of the scan's analyses this is. */
  analysisVersion?: number;
}

export interface ScanSummary {
  id: string;
  status: ScanStatus;
  version: number;
  priority: Priority | null;
  priorityScore: number | null;
  patient: { id: string; name: string | null };
  source: string;
  format: string;
  mediaType: string;
  width: number;
  height: number;
  frames: number;
  byteSize: number;
  sha256: string;
  integrity: 'ok' | 'mismatch';
  /** Set when the bytes failed their hash check: the scan waits in the integrity review queue. */
  secondOpinionSince?: string | null;
  modality: string | null;
  bodyPart: string | null;
  receivedAt: string;
  statusSince: string;
  ai: AiResult | null;
}

export interface TimelineEntry {
  action: string;
  from: ScanStatus | null;
  to: ScanStatus;
  actorUserId: string | null;
  actorRole: string | null;
  notes: string | null;
  at: string;
}

export interface ScanDetail extends ScanSummary {
  originalName: string | null;
  dicom: Record<string, string> | null;
  findings: { findings: string; impression: string | null } | null;
  prescription: Prescription | null;
  timeline: TimelineEntry[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface StatusCount {
  status: string;
  total: number;
  high: number;
  oldestWaitingSince: string | null;
}

export interface WorklistQuery {
  status?: string;
  priority?: Priority;
  from?: string;
  to?: string;
  cursor?: string;
  limit?: number;
}

export type TransitionInput =
  | { action: 'verify'; version: number; findings: string; impression?: string; notes?: string }
  | { action: 'complete'; version: number; prescription: Prescription; notes?: string }
  | { action: 'approve'; version: number; notes?: string }
  | { action: 'send_back'; version: number; reason: string };

export interface AdminUser {
  id: string;
  email: string;
  name: string;
  role: string;
  status: string;
  licenceNumber: string | null;
  licenceJurisdiction: string | null;
  clinicianVerified: boolean;
  totpEnabled: boolean;
  createdAt: string;
}

export interface OutboxMessage {
  id: string;
  kind: string;
  to: string;
  subject: string;
  body: string;
  status: string;
  createdAt: string;
  /** Older servers leave it out. */
  attachment?: { name: string; type: string } | null;
}

export interface AuditEvent {
  seq: number;
  id: string;
  at: string;
  actorUserId: string | null;
  actorRole: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  outcome: string;
  clientAddress: string | null;
  reason: string | null;
}

export interface AuditQuery {
  action?: string;
  actorUserId?: string;
  resourceId?: string;
  outcome?: 'success' | 'denied' | 'failure';
  from?: string;
  to?: string;
  before?: number;
  limit?: number;
}

// ---------------------------------------------------------------- case discussion (routes/discussion.ts)

export interface Person {
  id: string;
  name: string;
  role: string;
}

export interface CaseMessage {
  id: string;
  scanId: string;
  author: Person;
  text: string;
  secondOpinionId: string | null;
  createdAt: string;
}

export interface SecondOpinion {
  id: string;
  scanId: string;
  requestedBy: Person;
  requestedOf: Person;
  status: 'requested' | 'answered' | 'declined';
  note: string | null;
  response: string | null;
  createdAt: string;
  respondedAt: string | null;
  scan: { status: string; priority: string | null };
}

export interface Annotation {
  id: string;
  scanId: string;
  kind: 'arrow' | 'ellipse' | 'length';
  geometry: GeometryInput;
  frame: number;
  label: string | null;
  measurement: { value: number; unit: 'mm' | 'px' } | null;
  author: { id: string; name: string };
  version: number;
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}

// ---------------------------------------------------------------- live channel (routes/live.ts)

export type LiveEvent =
  | {
      kind: 'scan.status' | 'scan.urgent';
      id: number;
      at: string;
      data: { scanId: string; status: ScanStatus; previousStatus: ScanStatus | null; priority: Priority | null };
    }
  | { kind: 'discussion.message'; id: number; at: string; data: { scanId: string; message: CaseMessage } }
  | { kind: 'annotation.changed'; id: number; at: string; data: { scanId: string; annotation: Annotation } }
  | { kind: 'second_opinion.changed'; id: number; at: string; data: { scanId: string; request: SecondOpinion } };

// ---------------------------------------------------------------- reports (routes/reports.ts)

export interface Delivery {
  id: string;
  channel: 'email' | 'outbox';
  status: 'queued' | 'sent' | 'failed';
  reason: string | null;
  attempts: number;
  queuedAt: string;
  lastAttemptAt: string | null;
  sentAt: string | null;
}

// ---------------------------------------------------------------- security and the log (routes/security.ts, ledger.ts)

export interface SecuritySignals {
  from: string;
  to: string;
  total: number;
  byAction: { action: string; outcome: string; count: number }[];
  byUser: { actorUserId: string | null; count: number }[];
  byAddress: { clientAddress: string | null; count: number }[];
  overTime: { start: string; count: number }[];
  recent: {
    seq: number;
    at: string;
    action: string;
    outcome: string;
    actorUserId: string | null;
    clientAddress: string | null;
    resourceType: string | null;
    resourceId: string | null;
    reason: string | null;
  }[];
}

export interface IntegrityAlert {
  id: string;
  kind: string;
  scope: 'organisation' | 'node';
  resourceType: string | null;
  resourceId: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

export interface Checkpoint {
  logId: string;
  origin: string;
  size: number;
  rootHash: string;
  note: string;
  createdAt: string;
  cosignatures: { witness: string; cosignedAt: string }[];
}
