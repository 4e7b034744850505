/**
 * `scanflow deidentify IN… --out DIR [--shift-dates DAYS] [--allow-burned-in] [--uid-secret S]`:
 * DICOM files de-identified by the PS3.15 Basic Application Level Confidentiality Profile, offline
 * (no server, no database), with the same code as the export endpoint.
 *
 * IN may be files or folders (read recursively). Each output is named by its new SOP Instance UID,
 * so no input name (which may hold a patient's name) survives. UIDs are remapped consistently
 * within one run; give --uid-secret (or SCANFLOW_DEID_SECRET) to keep them consistent across runs.
 * A file that cannot be de-identified is reported and the others go on; the exit status is then 1
 * (2 for a usage error).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deidentifyDicom, ImagingError } from '@scanflow/imaging';

const USAGE = `Usage: scanflow deidentify IN… --out DIR [--shift-dates DAYS] [--allow-burned-in] [--uid-secret SECRET]
  IN                 DICOM files, or folders of them (read recursively)
  --out DIR          where the de-identified files go (created if missing), named by their new SOP Instance UID
  --shift-dates N    shift every date by N days (PS3.15 E.3.6) instead of removing dates
  --allow-burned-in  de-identify files with Burned In Annotation YES too (text in the pixels stays; warned)
  --uid-secret S     key for UID remapping (at least 16 characters; default SCANFLOW_DEID_SECRET, else
                     random for this run), so separate runs map the same UID the same way`;

const fail = (message: string): number => {
  process.stderr.write(`scanflow deidentify: ${message}\n${USAGE}\n`);
  return 2;
};

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'shift-dates': { type: 'string' },
        'allow-burned-in': { type: 'boolean' },
        'uid-secret': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals: inputs } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (inputs.length === 0) return fail('name at least one input file or folder');
  if (!values.out) return fail('--out DIR is required');
  const shiftText = values['shift-dates'];
  const shift = shiftText === undefined ? undefined : Number(shiftText);
  if (shift !== undefined && (!Number.isInteger(shift) || Math.abs(shift) > 36_500)) {
    return fail('--shift-dates must be a whole number of days (at most 36500 either way)');
  }
  const secret = values['uid-secret'] ?? process.env.SCANFLOW_DEID_SECRET ?? randomBytes(24).toString('hex');
  if (secret.length < 16) return fail('--uid-secret must be at least 16 characters');

  let files: string[];
  try {
    files = inputs.flatMap((input) => listFiles(input));
  } catch (error) {
    return fail((error as Error).message);
  }
  mkdirSync(values.out, { recursive: true });
  let failed = 0;
  let written = 0;
  for (const file of files) {
    try {
      const result = deidentifyDicom(await readFile(file), {
        uidSecret: secret,
        ...(shift === undefined ? {} : { dateShiftDays: shift }),
        burnedInAnnotation: values['allow-burned-in'] ? 'warn' : 'refuse',
      });
      const name = `${result.sopInstanceUid ?? `instance-${written + 1}`}.dcm`;
      writeFileSync(join(values.out, name), result.bytes, { flag: 'wx' });
      written += 1;
      for (const warning of result.warnings)
        process.stderr.write(`scanflow deidentify: ${file}: warning: ${warning}\n`);
    } catch (error) {
      failed += 1;
      const message =
        error instanceof ImagingError
          ? error.message +
            (error.code === 'burned_in_annotation' ? ' Use --allow-burned-in to de-identify it anyway.' : '')
          : (error as Error).message;
      process.stderr.write(`scanflow deidentify: ${file}: ${message}\n`);
    }
  }
  process.stdout.write(`de-identified ${written} of ${files.length} file(s) into ${values.out}\n`);
  return failed > 0 ? 1 : 0;
}

/** The files under a path: itself, or everything below a folder (sorted, for a stable order). */
function listFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new Error(`${path}: no such file or folder`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => listFiles(join(path, entry)));
}
