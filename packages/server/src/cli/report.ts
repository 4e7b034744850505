/**
 * `scanflow report verify FILE | --code CODE [--url URL] [--log-key VKEY]`: asks a Scanflow server
 * whether a PDF (by its bytes) or a verification code is a report it issued, then checks what the
 * answer claims, offline: that the log entry names this file's SHA-256, that the entry hashes to
 * its leaf, and that the inclusion proof leads to the root of the signed checkpoint (and, with
 * --log-key, that the checkpoint is signed by that key). Exit 0 when it all holds, 1 when not.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { hashLeaf, openCheckpoint, parseCanonical, parseVerifierKey, verifyInclusion } from '@scanflow/ledger';
import type { Verification } from '../services/report-service.ts';

const USAGE = `Usage: scanflow report verify FILE | --code CODE [--url URL] [--log-key VKEY]
  FILE        a PDF report (its SHA-256 is what the log records)
  --code      the verification code printed on the report (XXXXX-XXXXX)
  --url       the Scanflow server (default $SCANFLOW_URL, else $PUBLIC_URL, else http://127.0.0.1:8080)
  --log-key   the log's verifier key (name+id+key), to check the checkpoint's signature too`;

type Answer = Verification;

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      code: { type: 'string' },
      url: { type: 'string' },
      'log-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, file] = positionals;
  if (values.help || sub !== 'verify' || (!file && !values.code) || (file && values.code)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const base = (values.url ?? process.env.SCANFLOW_URL ?? process.env.PUBLIC_URL ?? 'http://127.0.0.1:8080').replace(
    /\/+$/,
    '',
  );
  const pdf = file ? readFileSync(file) : null;
  const response = pdf
    ? await fetch(`${base}/api/v1/reports/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/pdf' },
        body: pdf,
      })
    : await fetch(`${base}/api/v1/reports/verify?code=${encodeURIComponent(values.code!)}`);
  const body = (await response.json()) as Answer & { error?: { message: string } };
  if (!response.ok) {
    process.stderr.write(`scanflow: the server answered ${response.status}: ${body.error?.message ?? ''}\n`);
    return 1;
  }
  if (!body.match || !body.report) {
    out(
      pdf
        ? 'NOT FOUND: this file is not a report the server issued (or it was changed).'
        : 'NOT FOUND: no report has this code.',
    );
    return 1;
  }
  const r = body.report;
  const fileHash = pdf ? createHash('sha256').update(pdf).digest('hex') : null;
  out(`MATCH: report ${r.verificationCode} (version ${r.version}) issued ${r.issuedAt} by ${r.organisation}`);
  out(`  PDF SHA-256 ${r.sha256}`);
  if (fileHash && fileHash !== r.sha256) {
    out(`  but this file's SHA-256 is ${fileHash}`);
    return 1;
  }
  return checkLedger(body.ledger, r.sha256, values['log-key']) ? 0 : 1;
}

/** Checks the log's evidence for the report; prints what holds and what does not. */
function checkLedger(ledger: Answer['ledger'], sha256: string, logKey: string | undefined): boolean {
  if (!ledger) {
    out('  LEDGER: not yet in the tamper-evident log (it is sequenced within moments; try again)');
    return false;
  }
  const entryBytes = Buffer.from(ledger.entry, 'base64');
  const entry = parseCanonical(entryBytes);
  if (entry.action !== 'report.issued' || entry.extra?.sha256 !== sha256) {
    out('  LEDGER: FAILED — the log entry does not record this report');
    return false;
  }
  const leaf = hashLeaf(entryBytes);
  if (Buffer.from(leaf).toString('hex') !== ledger.leafHash) {
    out('  LEDGER: FAILED — the entry does not hash to the stated leaf');
    return false;
  }
  out(`  LEDGER: entry ${ledger.index} of log ${ledger.origin}, logged ${entry.at}`);
  if (!ledger.checkpoint || !ledger.inclusionProof) {
    out('  CHECKPOINT: none signed since the entry yet; try again after the next checkpoint');
    return false;
  }
  const root = Buffer.from(ledger.checkpoint.rootHash, 'base64');
  const proof = ledger.inclusionProof.map((h) => Buffer.from(h, 'base64'));
  const included = verifyInclusion(ledger.index, ledger.checkpoint.size, leaf, proof, root);
  if (!included.ok) {
    out(`  INCLUSION: FAILED — ${included.reason}`);
    return false;
  }
  out(`  INCLUSION: verified in the checkpoint of size ${ledger.checkpoint.size} (root ${ledger.checkpoint.rootHash})`);
  if (!logKey) {
    out('  SIGNATURE: not checked (pass --log-key with the log’s verifier key from a source you trust)');
    return true;
  }
  const opened = openCheckpoint(ledger.checkpoint.note, [parseVerifierKey(logKey)], [], ledger.origin);
  if (!opened.ok) {
    out(`  SIGNATURE: FAILED — ${opened.reason}`);
    return false;
  }
  if (opened.checkpoint.size !== ledger.checkpoint.size || !Buffer.from(opened.checkpoint.rootHash).equals(root)) {
    out('  SIGNATURE: FAILED — the signed checkpoint is not the one the proof is for');
    return false;
  }
  out('  SIGNATURE: the checkpoint is signed by the log key given');
  return true;
}
