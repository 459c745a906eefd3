import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ALL_ROLES, principalOf } from '../auth/guard.js';
import type { Role } from '../db/schema.js';
import type { App } from '../http/server.js';
import { ErrorBody, errorResponses, IdParams, NullableTimestamp, Timestamp } from '../http/schemas.js';
import { bindLogFields } from '../observability/request-log.js';
import type { Actor, ReportService } from './service.js';

const security = [{ bearer: [] }];
const authors: { roles: readonly Role[] } = { roles: ['Engineer', 'Admin'] };
const approvers: { roles: readonly Role[] } = { roles: ['Approver', 'Admin'] };

const ReportSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  title: Type.String(),
  reference: Type.String(),
  client: Type.String(),
  status: Type.String({ description: 'DRAFT, PENDING, APPROVED, REJECTED or COMPLETED.' }),
  approved_stages: Type.Integer(),
  approval_stages: Type.Integer({ description: 'Approvals needed before the report is APPROVED.' }),
  created_by: Type.String(),
  submitted_by: Type.Union([Type.String(), Type.Null()]),
  rejection_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  completed_at: NullableTimestamp,
});

const text = (description: string) => Type.String({ minLength: 1, maxLength: 200, description });

const ReportCreateBody = Type.Object(
  {
    type: text('Kind of test report, e.g. SAT.'),
    title: text('Title of the report.'),
    reference: text('Document reference.'),
    client: text('Client the test was run for.'),
  },
  { additionalProperties: false },
);

const transitionResponses = { 200: ReportSchema, 409: ErrorBody, ...errorResponses };

export function registerReportRoutes(app: App, reports: ReportService): void {
  const actorOf = (request: FastifyRequest): Actor => ({
    principal: principalOf(request),
    requestId: request.id,
  });

  app.post(
    '/api/v1/reports',
    {
      config: authors,
      schema: {
        tags: ['reports'],
        summary: 'Create a draft report',
        security,
        body: ReportCreateBody,
        response: { 201: ReportSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const report = await reports.create(request.body, actorOf(request));
      bindLogFields(request, { report_id: report.id, report_status: report.status });
      return reply.code(201).send(report);
    },
  );

  app.get(
    '/api/v1/reports',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['reports'],
        summary: 'List reports, newest first',
        security,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(ReportSchema) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await reports.list(request.query.limit) }),
  );

  app.get(
    '/api/v1/reports/:id',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['reports'],
        summary: 'Get a report',
        security,
        params: IdParams,
        response: { 200: ReportSchema, ...errorResponses },
      },
    },
    async (request) => reports.get(request.params.id),
  );

  const transitions = [
    { path: 'submit', roles: authors, summary: 'Submit a draft or rejected report for approval' },
    { path: 'approve', roles: approvers, summary: 'Approve the current stage of a pending report' },
    { path: 'complete', roles: approvers, summary: 'Complete a fully approved report' },
  ] as const;
  for (const transition of transitions) {
    app.post(
      `/api/v1/reports/:id/${transition.path}`,
      {
        config: transition.roles,
        schema: {
          tags: ['reports'],
          summary: transition.summary,
          security,
          params: IdParams,
          response: transitionResponses,
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const id = request.params.id;
        const report =
          transition.path === 'submit'
            ? await reports.submit(id, actor)
            : transition.path === 'approve'
              ? await reports.approve(id, actor)
              : await reports.complete(id, actor);
        bindLogFields(request, { report_id: id, report_status: report.status });
        return report;
      },
    );
  }

  app.post(
    '/api/v1/reports/:id/reject',
    {
      config: approvers,
      schema: {
        tags: ['reports'],
        summary: 'Reject a pending report with a reason',
        security,
        params: IdParams,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
          { additionalProperties: false },
        ),
        response: transitionResponses,
      },
    },
    async (request) => {
      const report = await reports.reject(request.params.id, request.body.reason, actorOf(request));
      bindLogFields(request, { report_id: report.id, report_status: report.status });
      return report;
    },
  );
}
