export * from './errors.ts';
export * from './roles.ts';
export * from './lifecycle.ts';
export * from './prescription.ts';
export * from './policy.ts';
export * from './worklist.ts';
export * from './annotations.ts';
export * from './ids.ts';
