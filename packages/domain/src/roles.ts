export const ROLES = ['patient', 'doctor', 'pharmacist', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Clinicians must hold a licence verified by an admin before they see clinical data (SPEC A3). */
export const CLINICIAN_ROLES: readonly Role[] = ['doctor', 'pharmacist'];

export const isRole = (value: unknown): value is Role => typeof value === 'string' && ROLES.includes(value as Role);
export const isClinicianRole = (role: Role): boolean => CLINICIAN_ROLES.includes(role);
