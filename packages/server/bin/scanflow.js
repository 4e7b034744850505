#!/usr/bin/env node
// Scanflow runs its TypeScript sources directly through tsx (no build step to forget);
// `npm run typecheck` is where the compiler checks them.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
