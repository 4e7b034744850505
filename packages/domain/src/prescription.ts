/**
 * A structured prescription (SPEC W4): one or more items, each with drug, dose, route, frequency
 * and duration. Free text is allowed only where a pharmacist would write free text.
 */
import { AppError } from './errors.ts';

export const ROUTES = [
  'oral',
  'intravenous',
  'intramuscular',
  'subcutaneous',
  'inhaled',
  'topical',
  'sublingual',
  'rectal',
  'transdermal',
  'nasal',
  'ophthalmic',
  'other',
] as const;
export type Route = (typeof ROUTES)[number];

export interface PrescriptionItem {
  drug: string;
  dose: string;
  route: Route;
  frequency: string;
  duration: string;
  notes?: string;
}

export interface Prescription {
  items: PrescriptionItem[];
  notes?: string;
}

// "500 mg", "2.5 mL", "1 tablet", "10 units" — an amount and a unit.
const DOSE =
  /^\d+(?:[.,]\d+)?\s?(?:mg|g|mcg|µg|ug|ng|mL|ml|L|IU|units?|tablets?|capsules?|drops?|puffs?|sachets?|patch(?:es)?|mg\/kg|mmol|%)$/i;
// "7 days", "2 weeks", "1 month", "single dose", "ongoing".
const DURATION = /^(?:\d+\s?(?:hours?|days?|weeks?|months?)|single dose|ongoing|until review)$/i;

function text(value: unknown, field: string, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw new AppError('validation_failed', `Prescription ${field} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new AppError('validation_failed', `Prescription ${field} must be text`);
  const trimmed = value.trim();
  if (required && trimmed.length === 0) throw new AppError('validation_failed', `Prescription ${field} is required`);
  if (trimmed.length > max)
    throw new AppError('validation_failed', `Prescription ${field} is longer than ${max} characters`);
  return trimmed.length > 0 ? trimmed : undefined;
}

function validateItem(raw: unknown, index: number): PrescriptionItem {
  if (typeof raw !== 'object' || raw === null) {
    throw new AppError('validation_failed', `Prescription item ${index + 1} must be an object`);
  }
  const r = raw as Record<string, unknown>;
  const where = (field: string) => `item ${index + 1} ${field}`;
  const drug = text(r.drug, where('drug'), 200, true)!;
  const dose = text(r.dose, where('dose'), 50, true)!;
  if (!DOSE.test(dose)) {
    throw new AppError(
      'validation_failed',
      `Prescription ${where('dose')} "${dose}" must be an amount and a unit, e.g. "500 mg"`,
    );
  }
  const route = text(r.route, where('route'), 30, true)!.toLowerCase();
  if (!ROUTES.includes(route as Route)) {
    throw new AppError('validation_failed', `Prescription ${where('route')} must be one of ${ROUTES.join(', ')}`);
  }
  const frequency = text(r.frequency, where('frequency'), 100, true)!;
  const duration = text(r.duration, where('duration'), 50, true)!;
  if (!DURATION.test(duration)) {
    throw new AppError(
      'validation_failed',
      `Prescription ${where('duration')} "${duration}" must be like "7 days", "2 weeks", "single dose" or "ongoing"`,
    );
  }
  const notes = text(r.notes, where('notes'), 2000, false);
  return { drug, dose, route: route as Route, frequency, duration, ...(notes ? { notes } : {}) };
}

export function validatePrescription(raw: unknown): Prescription {
  if (typeof raw !== 'object' || raw === null)
    throw new AppError('validation_failed', 'Prescription must be an object');
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.items)) throw new AppError('validation_failed', 'Prescription items must be a list');
  if (r.items.length > 20) throw new AppError('validation_failed', 'A prescription has at most 20 items');
  const items = r.items.map(validateItem);
  const notes = text(r.notes, 'notes', 5000, false);
  if (items.length === 0 && !notes) {
    throw new AppError(
      'validation_failed',
      'A prescription needs at least one item, or notes saying why none is given',
    );
  }
  return { items, ...(notes ? { notes } : {}) };
}
