/** Settings for a fresh, quiet Scanflow in a benchmark: its own data and key, no demo data, no rate limits in the way. */
import { randomBytes } from 'node:crypto';

export function quietServerEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    SCANFLOW_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    ...extra,
  };
}
