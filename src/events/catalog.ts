import { Type, type TSchema } from 'typebox';

export const REPORT_EVENT_TYPES = ['submission', 'approval', 'rejection', 'completion'] as const;
export type ReportEventType = (typeof REPORT_EVENT_TYPES)[number];

/** Emitted when a webhook is deactivated because all its attempts failed for too long. */
export const WEBHOOK_DISABLED = 'webhook.disabled';

/** Event types the service emits itself; none of them can be published or registered. */
export const BUILT_IN_EVENT_TYPES: readonly string[] = [...REPORT_EVENT_TYPES, WEBHOOK_DISABLED];

export interface EventTypeInfo {
  readonly name: string;
  readonly description: string;
  readonly schema: TSchema;
  readonly example: Readonly<Record<string, unknown>>;
}

const ReportSummary = Type.Object({
  id: Type.String(),
  type: Type.String(),
  title: Type.String(),
  reference: Type.String(),
  client: Type.String(),
  submitted_by: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
});

const envelope = (name: string, extra: Record<string, TSchema>): TSchema =>
  Type.Object({
    id: Type.String({ description: 'Event id; also sent as the webhook-id header.' }),
    event: Type.Literal(name),
    timestamp: Type.String({ format: 'date-time' }),
    report: ReportSummary,
    ...extra,
  });

const exampleReport = {
  id: 'rpt_01JEXAMPLE0000000000000000',
  type: 'SAT',
  title: 'Pump station 4 acceptance test',
  reference: 'SAT-2026-0042',
  client: 'Northwind Water',
  submitted_by: 'engineer@example.com',
};
const exampleTime = '2026-01-15T09:30:00.000Z';

export const EVENT_CATALOG: readonly EventTypeInfo[] = [
  {
    name: 'submission',
    description: 'An engineer submitted a report for approval.',
    schema: envelope('submission', {}),
    example: {
      id: 'evt_01JEXAMPLE0000000000000001',
      event: 'submission',
      timestamp: exampleTime,
      report: { ...exampleReport, status: 'PENDING' },
    },
  },
  {
    name: 'approval',
    description: 'An approver approved one stage of a report.',
    schema: envelope('approval', {
      approval: Type.Object({ stage: Type.Integer({ minimum: 1 }), approver: Type.String() }),
    }),
    example: {
      id: 'evt_01JEXAMPLE0000000000000002',
      event: 'approval',
      timestamp: exampleTime,
      report: { ...exampleReport, status: 'PENDING' },
      approval: { stage: 1, approver: 'approver@example.com' },
    },
  },
  {
    name: 'rejection',
    description: 'An approver rejected a report at one stage, with a reason.',
    schema: envelope('rejection', {
      rejection: Type.Object({
        stage: Type.Integer({ minimum: 1 }),
        rejector: Type.String(),
        reason: Type.String(),
      }),
    }),
    example: {
      id: 'evt_01JEXAMPLE0000000000000003',
      event: 'rejection',
      timestamp: exampleTime,
      report: { ...exampleReport, status: 'REJECTED' },
      rejection: { stage: 1, rejector: 'approver@example.com', reason: 'Torque values missing.' },
    },
  },
  {
    name: 'completion',
    description: 'A fully approved report was completed.',
    schema: envelope('completion', { completion_time: Type.String({ format: 'date-time' }) }),
    example: {
      id: 'evt_01JEXAMPLE0000000000000004',
      event: 'completion',
      timestamp: exampleTime,
      report: { ...exampleReport, status: 'COMPLETED' },
      completion_time: exampleTime,
    },
  },
  {
    name: WEBHOOK_DISABLED,
    description:
      'A webhook was deactivated because every attempt to it failed for the configured period.',
    schema: Type.Object({
      id: Type.String({ description: 'Event id; also sent as the webhook-id header.' }),
      event: Type.Literal(WEBHOOK_DISABLED),
      timestamp: Type.String({ format: 'date-time' }),
      webhook: Type.Object({
        id: Type.String(),
        name: Type.String(),
        url: Type.String(),
        reason: Type.String(),
        failing_since: Type.String({ format: 'date-time' }),
        disabled_at: Type.String({ format: 'date-time' }),
      }),
    }),
    example: {
      id: 'evt_01JEXAMPLE0000000000000005',
      event: WEBHOOK_DISABLED,
      timestamp: exampleTime,
      webhook: {
        id: 'wh_01JEXAMPLE0000000000000000',
        name: 'Quality system',
        url: 'https://quality.example.com/hooks',
        reason: 'every attempt failed for 5d',
        failing_since: '2026-01-10T09:30:00.000Z',
        disabled_at: exampleTime,
      },
    },
  },
];

export function isEventType(name: string): name is ReportEventType {
  return (REPORT_EVENT_TYPES as readonly string[]).includes(name);
}

export function eventTypeInfo(name: string): EventTypeInfo {
  const info = EVENT_CATALOG.find((entry) => entry.name === name);
  if (!info) throw new Error(`event type ${name} is missing from the catalog`);
  return info;
}
