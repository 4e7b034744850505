/** Helpers the ledger tests share: the export an operator writes, and `scanflow ledger …` run in-process. */
import { writeFileSync } from 'node:fs';
import { run as ledgerCli } from '../src/cli/ledger.ts';
import { withSystem } from '../src/db/scope.ts';
import { ledgerFor } from '../src/services/ledger-service.ts';
import type { TestApp } from './harness.ts';

/** Writes the log of `orgId` to `file` as `scanflow ledger export` would; returns the log's key. */
export async function exportLog(t: TestApp, orgId: string, file: string): Promise<string> {
  const ledger = ledgerFor(t.ctx);
  const logKey = (await ledger.logSigner(orgId)).verifierKey;
  let text = '';
  await withSystem(t.ctx.db, (tx) =>
    ledger.writeExport(tx, orgId, logKey, (chunk) => {
      text += chunk;
    }),
  );
  writeFileSync(file, text);
  return logKey;
}

/** Runs `scanflow ledger …` in this process and collects what it prints. */
export async function runLedgerCli(args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string) => lines.push(String(chunk)) > 0;
  try {
    const code = await ledgerCli(args);
    return { code, output: lines.join('') };
  } finally {
    process.stdout.write = write;
  }
}
