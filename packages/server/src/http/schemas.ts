/** Schemas shared by several routes. Each also documents itself in the OpenAPI output. */
import { Type, type Static } from 'typebox';
import { SCAN_STATUSES } from '@scanflow/domain';

export const Uuid = Type.String({ format: 'uuid' });

export const ErrorReply = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. validation_failed, forbidden' }),
      message: Type.String({ description: 'What went wrong, for a person' }),
      details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { $id: 'ErrorReply' },
);

export const errorReplies = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorReply')])) as Record<number, ReturnType<typeof Type.Ref>>;

export const ScanStatusSchema = Type.Union(SCAN_STATUSES.map((s) => Type.Literal(s)));

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** One label of an AI result: its probability and the threshold it was read against. */
export const AiLabelSchema = Type.Object({
  id: Type.String(),
  display: Type.String(),
  probability: Type.Number(),
  threshold: Type.Optional(Type.Number()),
  positive: Type.Optional(Type.Boolean()),
});
export const AiFindingSchema = Type.Object({ id: Type.String(), display: Type.String(), probability: Type.Number() });
export const AiModelSchema = Type.Object({ name: Type.String(), version: Type.String() });

export const AiResultSchema = Type.Object({
  model: AiModelSchema,
  labels: Type.Array(AiLabelSchema),
  topFinding: Nullable(AiFindingSchema),
  confidence: Type.Optional(
    Type.Number({ description: 'The top finding probability; for "No finding" (null), 1 − the highest probability' }),
  ),
  uncertain: Type.Boolean(),
  priorityScore: Type.Number(),
  priority: Type.Union([Type.Literal('HIGH'), Type.Literal('ROUTINE')]),
  disclaimer: Type.String(),
  heatmap: Type.Optional(
    Nullable(
      Type.Object({
        label: Type.String({ description: 'The label the heatmap explains (GET /scans/{id}/heatmap)' }),
        sha256: Type.Optional(
          Type.String({ description: 'Its stored overlay, in results recorded before heatmaps were drawn on request' }),
        ),
      }),
    ),
  ),
  analysisVersion: Type.Optional(Type.Integer({ description: 'The run of GET /scans/{id}/analysis this is' })),
});

const { labels: _labels, ...aiSummaryProperties } = AiResultSchema.properties;
export const AiSummarySchema = Type.Object(aiSummaryProperties);

export const ScanSummarySchema = Type.Object(
  {
    id: Uuid,
    status: ScanStatusSchema,
    version: Type.Integer({ description: 'Send this back with a transition (optimistic concurrency)' }),
    priority: Nullable(Type.Union([Type.Literal('HIGH'), Type.Literal('ROUTINE')])),
    priorityScore: Nullable(Type.Number()),
    patient: Type.Object({ id: Uuid, name: Nullable(Type.String()) }),
    source: Type.String(),
    format: Type.String(),
    mediaType: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    frames: Type.Integer(),
    byteSize: Type.Integer(),
    sha256: Type.String(),
    integrity: Type.Union([Type.Literal('ok'), Type.Literal('mismatch')]),
    secondOpinionSince: Nullable(Type.String({ format: 'date-time' })),
    modality: Nullable(Type.String()),
    bodyPart: Nullable(Type.String()),
    receivedAt: Type.String({ format: 'date-time' }),
    statusSince: Type.String({ format: 'date-time' }),
    ai: Nullable(AiSummarySchema),
  },
  { $id: 'ScanSummary' },
);

export const PrescriptionSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        drug: Type.String({ maxLength: 200 }),
        dose: Type.String({ maxLength: 50, examples: ['500 mg'] }),
        route: Type.String({ maxLength: 30, examples: ['oral'] }),
        frequency: Type.String({ maxLength: 100, examples: ['three times daily'] }),
        duration: Type.String({ maxLength: 50, examples: ['7 days'] }),
        notes: Type.Optional(Type.String({ maxLength: 2000 })),
      }),
      { maxItems: 20 },
    ),
    notes: Type.Optional(Type.String({ maxLength: 5000 })),
  },
  { $id: 'Prescription' },
);

export const ScanDetailSchema = Type.Object(
  {
    ...ScanSummarySchema.properties,
    ai: Nullable(AiResultSchema),
    originalName: Nullable(Type.String()),
    dicom: Nullable(Type.Record(Type.String(), Type.String())),
    findings: Nullable(Type.Object({ findings: Type.String(), impression: Nullable(Type.String()) })),
    prescription: Nullable(Type.Ref('Prescription')),
    timeline: Type.Array(
      Type.Object({
        action: Type.String(),
        from: Nullable(ScanStatusSchema),
        to: ScanStatusSchema,
        actorUserId: Nullable(Uuid),
        actorRole: Nullable(Type.String()),
        notes: Nullable(Type.String()),
        at: Type.String({ format: 'date-time' }),
      }),
    ),
  },
  { $id: 'ScanDetail' },
);

export type ScanDetailBody = Static<typeof ScanDetailSchema>;
