/**
 * The AI's results and models (SPEC M1–M5): a scan's analysis (current or an earlier version),
 * its heatmap images, a doctor's re-run, and the active model with its card.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decide } from '@scanflow/domain';
import { AnalysisService } from '../../services/analysis-service.ts';
import { enforce } from '../../services/access.ts';
import { modelCatalog } from '../../services/model-catalog.ts';
import { AiFindingSchema, AiLabelSchema, AiModelSchema, errorReplies, Nullable, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { heatmapPictureReplies, sendHeatmapPicture } from '../heatmap-reply.ts';

const Priority = Type.Union([Type.Literal('HIGH'), Type.Literal('ROUTINE')]);

const VersionSummary = Type.Object({
  version: Type.Integer(),
  current: Type.Boolean({ description: 'The run the scan shows now' }),
  model: AiModelSchema,
  createdAt: Type.String({ format: 'date-time' }),
  topFinding: Nullable(AiFindingSchema),
  priority: Priority,
  uncertain: Type.Boolean(),
});

const AnalysisSchema = Type.Object({
  scanId: Uuid,
  ...VersionSummary.properties,
  labels: Type.Array(AiLabelSchema),
  thresholds: Type.Object({
    labels: Type.Record(Type.String(), Type.Number()),
    uncertain: Nullable(Type.Number()),
    high: Nullable(Type.Number()),
  }),
  confidence: Type.Number({
    description: 'The top finding probability; for "No finding" (topFinding null), 1 − the highest probability',
  }),
  priorityScore: Type.Number(),
  heatmap: Nullable(
    Type.Object({
      label: Type.String({ description: 'The label explained: the top finding, or the most probable label' }),
      method: Type.String(),
      heatmapUrl: Type.String({ description: 'Grey 8-bit PNG of the map' }),
      overlayUrl: Type.String({ description: 'RGBA PNG colour overlay for the image' }),
    }),
  ),
  timings: Nullable(Type.Record(Type.String(), Type.Number(), { description: 'Milliseconds per pipeline stage' })),
  requestedBy: Nullable(Uuid),
  disclaimer: Type.String(),
  versions: Type.Array(VersionSummary, { description: 'Every run of this scan, newest first' }),
});

const ModelSummarySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.String(),
  description: Nullable(Type.String()),
  task: Type.String(),
  labels: Type.Array(
    Type.Object({ id: Type.String(), display: Type.String(), threshold: Type.Number(), urgency: Type.Number() }),
  ),
  input: Type.Object({ shape: Type.Array(Type.Integer()), channels: Type.Integer() }),
  preprocessing: Type.Object({ intensity: Type.String(), resize: Type.String(), size: Type.Array(Type.Integer()) }),
  explanation: Type.Union([Type.Literal('gradcam'), Type.Literal('occlusion')]),
  uncertainThreshold: Type.Number(),
  uncertainDefinition: Nullable(Type.String()),
  priority: Type.Object({
    weights: Type.Record(Type.String(), Type.Number()),
    highThreshold: Type.Number(),
    definition: Nullable(Type.String()),
  }),
  card: Nullable(Type.String({ description: 'MODEL_CARD.md (Markdown)' })),
});

export const analysisRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const analyses = new AnalysisService(app.ctx);
  const version = Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Default: the current run' }),
  );

  app.get(
    '/scans/:id/analysis',
    {
      config: { audit: 'scan.analysis_read' },
      schema: {
        tags: ['ai'],
        summary: "A scan's AI analysis: every label's probability and threshold, the model, the heatmap links",
        description:
          'Decision support, not a diagnosis. Without `version`, the run the scan shows now; `versions` lists every run.',
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({ version }),
        response: { 200: AnalysisSchema, ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request) => analyses.get(sessionOf(request), request.params.id, request.query.version),
  );

  app.post(
    '/scans/:id/analysis',
    {
      config: { audit: 'scan.reanalyse' },
      schema: {
        tags: ['ai'],
        summary: 'Run the AI analysis again (doctors): queued; the result becomes a new version',
        params: Type.Object({ id: Uuid }),
        response: {
          202: Type.Object({ scanId: Uuid, jobId: Uuid, status: Type.Literal('queued') }),
          ...errorReplies(400, 401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const queued = await analyses.rerun(sessionOf(request), request.params.id);
      request.auditTarget.details = { jobId: queued.jobId };
      return reply.status(202).send({ ...queued, status: 'queued' as const });
    },
  );

  app.get(
    '/scans/:id/analysis/:image',
    {
      config: { audit: 'scan.analysis_image_read' },
      schema: {
        tags: ['ai'],
        summary: "A run's heatmap as a PNG: `heatmap` (grey map) or `overlay` (RGBA colour overlay)",
        params: Type.Object({ id: Uuid, image: Type.Union([Type.Literal('heatmap'), Type.Literal('overlay')]) }),
        querystring: Type.Object({ version }),
        response: { ...heatmapPictureReplies, ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id, image } = request.params;
      const found = await analyses.image(sessionOf(request), id, image, request.query.version);
      request.auditTarget.details = { analysisVersion: found.version };
      const addressedBy = request.query.version === undefined ? 'current' : 'version';
      return sendHeatmapPicture(request, reply, id, found, image, addressedBy);
    },
  );

  app.get(
    '/models',
    {
      config: { audit: 'model.read' },
      schema: {
        tags: ['ai'],
        summary: 'The active model: its manifest summary and its model card; and every model loaded',
        response: {
          200: Type.Object({
            active: ModelSummarySchema,
            models: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), version: Type.String() })),
            disclaimer: Type.String(),
          }),
          ...errorReplies(401, 403),
        },
      },
    },
    async (request) => {
      const { actor } = sessionOf(request);
      enforce(decide(actor, 'model.read', { kind: 'organisation', orgId: actor.orgId }), 'Model');
      return modelCatalog(app.ctx.config);
    },
  );
};
