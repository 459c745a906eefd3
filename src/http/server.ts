import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../observability/logger.js';
import { parseJsonBody } from './json-body.js';
import { buildDeferredSerializer } from './deferred-compile.js';
import { describeSchemaError, validatorCompiler } from './validation.js';

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_LIMIT_BYTES = 1024 * 1024;

/** Fastify's own error codes that map to a public code other than invalid_request. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
};

/**
 * Creates the Fastify instance with strict validation, request ids, one error shape and
 * the OpenAPI generator. Routes are registered by the composition root.
 */
export function createHttpServer(logger: Logger): App {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: false,
    // registerRequestLogging writes one line per request with its route, user and duration.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newId('req');
    },
    return503OnClosing: true,
    schemaController: { compilersFactory: { buildSerializer: buildDeferredSerializer } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Every body is JSON; without this parser text/plain would reach the schema as a string
  // and fail with a confusing type error instead of 415.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      code: 'not_found',
      message: `No route matches ${request.method} ${request.url.split('?')[0]}.`,
    });
  });

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Report webhooks API',
        version: '0.1.0',
        description: 'Reports, webhooks and signed, retried deliveries of report events.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  return app;
}

function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof AppError) {
    if (error.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
    }
    void reply.code(error.status).send({
      code: error.code,
      message: error.message,
      ...(error.field === undefined ? {} : { field: error.field }),
    });
    return;
  }

  // PostgreSQL cannot store U+0000 in text columns and raises SQLSTATE 22021 (SQLite stores
  // it), so a NUL in a field that passed validation must still be a client error.
  if ((error as { code?: unknown }).code === '22021') {
    void reply.code(400).send({
      code: 'invalid_request',
      message: 'A text value contains a NUL character (\\u0000), which cannot be stored; remove it.',
    });
    return;
  }

  // PostgreSQL aborts one of two transactions that deadlock or fail to serialise; the
  // request did nothing and can simply be sent again.
  const sqlState = (error as { code?: unknown }).code;
  if (sqlState === '40P01' || sqlState === '40001') {
    request.log.warn({ err: error }, 'transaction aborted by a concurrent change');
    void reply.code(409).send({
      code: 'conflict',
      message: 'The request collided with a concurrent change and was not applied; send it again.',
    });
    return;
  }

  const fastifyError = error as FastifyError;
  if (fastifyError.validation && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0];
    const part = fastifyError.validationContext ?? 'body';
    const { field, message } = first
      ? describeSchemaError(first as Parameters<typeof describeSchemaError>[0], part)
      : { field: part, message: fastifyError.message };
    void reply.code(400).send({ code: 'invalid_request', message, field });
    return;
  }

  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  const status = fastifyError.statusCode ?? 500;
  if (mapped !== undefined || (status >= 400 && status < 500)) {
    const code = mapped ?? 'invalid_request';
    const message =
      code === 'invalid_json'
        ? `The body is not valid JSON: ${fastifyError.message}`
        : fastifyError.message;
    void reply.code(mapped ? ERROR_STATUS[code] : status).send({ code, message });
    return;
  }

  request.log.error({ err: error }, 'request failed');
  void reply.code(500).send({
    code: 'internal_error',
    message: `The server failed to handle the request; quote request id ${request.id} when reporting it.`,
  });
}
