import { Type } from 'typebox';
import { REPORT_EVENT_TYPES } from '../events/catalog.js';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';

const EventTypeList = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 50,
  description: `Event types to deliver: ${REPORT_EVENT_TYPES.join(', ')}, webhook.disabled or a custom type.`,
});

const FOLLOW_REDIRECTS_DESCRIPTION =
  'Follow redirects, up to 3, checking each target like the webhook URL. ' +
  'When false, a 3xx answer is recorded as the outcome of the attempt.';
const FollowRedirects = Type.Boolean({ description: FOLLOW_REDIRECTS_DESCRIPTION });
const EngineFields = {
  max_in_flight: Type.Union([Type.Integer({ minimum: 1, maximum: 1000 }), Type.Null()], {
    description: 'Attempts in flight at once for this webhook; null uses WEBHOOK_ENDPOINT_CONCURRENCY.',
  }),
  rate_limit: Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 10_000 }), Type.Null()], {
    description: 'Requests per second at most; null for no limit.',
  }),
  ordered: Type.Boolean({
    description: 'Send deliveries one at a time in event order; a failing one holds back the rest.',
  }),
};

const HeaderMap = Type.Record(Type.String(), Type.String(), {
  description: 'Custom request headers, e.g. Authorization for the receiver.',
});

export const WebhookCreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    url: Type.String({ minLength: 1, maxLength: 8192, description: 'Absolute http or https URL.' }),
    event_types: EventTypeList,
    headers: Type.Optional(HeaderMap),
    is_active: Type.Optional(Type.Boolean({ default: true })),
    follow_redirects: Type.Optional(
      Type.Boolean({ default: false, description: FOLLOW_REDIRECTS_DESCRIPTION }),
    ),
    max_in_flight: Type.Optional(EngineFields.max_in_flight),
    rate_limit: Type.Optional(EngineFields.rate_limit),
    ordered: Type.Optional(EngineFields.ordered),
  },
  { additionalProperties: false },
);

export const WebhookPatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
    event_types: Type.Optional(EventTypeList),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
        description: 'Headers to set; null removes a header. Headers not named stay as they are.',
      }),
    ),
    is_active: Type.Optional(Type.Boolean()),
    follow_redirects: Type.Optional(FollowRedirects),
    max_in_flight: Type.Optional(EngineFields.max_in_flight),
    rate_limit: Type.Optional(EngineFields.rate_limit),
    ordered: Type.Optional(EngineFields.ordered),
  },
  { additionalProperties: false },
);

export const WebhookSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  headers: Type.Record(Type.String(), Type.String(), {
    description: 'Custom header names; values are masked.',
  }),
  is_active: Type.Boolean(),
  follow_redirects: FollowRedirects,
  max_in_flight: EngineFields.max_in_flight,
  rate_limit: EngineFields.rate_limit,
  ordered: Type.Boolean(),
  failing_since: NullableTimestamp,
  disabled_reason: Type.Union([Type.String(), Type.Null()]),
  disabled_at: NullableTimestamp,
  previous_secret_expires_at: NullableTimestamp,
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_triggered: NullableTimestamp,
  trigger_count: Type.Integer(),
  success_rate_24h: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
    description:
      'Share of delivery attempts (not test calls) in the last 24 hours that succeeded; ' +
      'null without attempts.',
  }),
  attempts_24h: Type.Integer({ description: 'Delivery attempts in the last 24 hours.' }),
  last_attempt: Type.Union([
    Type.Object({
      at: Timestamp,
      succeeded: Type.Boolean(),
      status_code: Type.Union([Type.Integer(), Type.Null()]),
      error_kind: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
});

export const WebhookWithSecret = Type.Intersect([
  WebhookSchema,
  Type.Object({ secret: Type.String({ description: 'Signing secret; shown here and by the secret route only.' }) }),
]);

export const TestResultSchema = Type.Object({
  success: Type.Boolean(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Integer(),
  response_excerpt: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  error_kind: Type.Union([Type.String(), Type.Null()]),
  redirects: Type.Array(Type.String(), { description: 'URLs of the redirects followed, in order.' }),
  event_type: Type.String(),
  delivery_id: Type.String(),
});
