/** Display helpers: statuses, dates, sizes, waiting times. */
import type { ScanStatus } from '@scanflow/domain';

export const STATUS_LABEL: Record<ScanStatus, string> = {
  PENDING_AI: 'Awaiting AI pre-read',
  AI_ANALYZED: 'Awaiting doctor',
  DOCTOR_VERIFIED: 'Awaiting pharmacist',
  PHARMACIST_COMPLETED: 'Awaiting approval',
  REPORT_READY: 'Report ready',
};

/** What each step means to the person waiting for it. */
export const STEP_LABEL: Record<ScanStatus, string> = {
  PENDING_AI: 'Received',
  AI_ANALYZED: 'AI pre-read',
  DOCTOR_VERIFIED: 'Doctor verified',
  PHARMACIST_COMPLETED: 'Prescription',
  REPORT_READY: 'Report ready',
};

export const ACTION_LABEL: Record<string, string> = {
  upload: 'Uploaded',
  receive: 'Received',
  record_ai: 'AI pre-read recorded',
  verify: 'Verified by doctor',
  complete: 'Prescription completed',
  approve: 'Approved; report ready',
  send_back: 'Sent back',
};

export const actionLabel = (action: string) => ACTION_LABEL[action] ?? action.replace(/_/g, ' ');

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** "3 min", "2 h 5 min", "4 d" since the given time. */
export function waitingSince(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const minutes = Math.max(0, Math.floor((now - new Date(iso).getTime()) / 60_000));
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const percent = (p: number) => `${Math.round(p * 1000) / 10}%`;

/** The message to show for anything thrown. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return 'Something went wrong. Please try again.';
}
