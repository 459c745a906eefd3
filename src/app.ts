import { AuthService } from './auth/service.js';
import { registerAuthGuard } from './auth/guard.js';
import { registerAuthRoutes } from './auth/routes.js';
import type { Config } from './config/config.js';
import { migrateToLatest, openDatabase, type Db } from './db/database.js';
import { registerDeliveryRoutes } from './delivery/routes.js';
import { DeliverySender } from './delivery/sender.js';
import { DeliveryService } from './delivery/service.js';
import { DeliveryStore } from './delivery/store.js';
import { DeliveryWorker } from './delivery/worker.js';
import { registerEventRoutes } from './events/routes.js';
import { registerApiDocs } from './http/docs.js';
import { createHttpServer, type App } from './http/server.js';
import { registerHealthRoutes } from './observability/health.js';
import { createLogger, type Logger } from './observability/logger.js';
import { registerMetricsRoute, ServiceMetrics } from './observability/metrics.js';
import { registerRequestLogging } from './observability/request-log.js';
import { AddressPolicy } from './outbound/address-policy.js';
import { DestinationChecker } from './outbound/checker.js';
import { OutboundClient } from './outbound/client.js';
import type { Lookup } from './outbound/destination.js';
import { registerReportRoutes } from './reports/routes.js';
import { ReportService } from './reports/service.js';
import { registerLegacyWebhookRoutes } from './webhooks/legacy-routes.js';
import { registerWebhookRoutes } from './webhooks/routes.js';
import { WebhookService } from './webhooks/service.js';

/** Maximum sleep of the delivery worker between checks for due deliveries. */
const WORKER_POLL_MS = 1_000;

export interface ServiceOptions {
  readonly logger?: Logger;
  /** Replaces the system resolver for webhook host names. */
  readonly lookup?: Lookup;
}

/** A registered route: its method and its Fastify URL pattern, such as `/api/v1/webhooks/:id`. */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  /** Left out of the OpenAPI document on purpose (health, metrics, docs). */
  readonly hidden: boolean;
}

export interface Service {
  readonly app: App;
  readonly db: Db;
  readonly worker: DeliveryWorker;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Every route registered on the HTTP server, HEAD routes included. */
  readonly routes: readonly RouteInfo[];
  /** Starts the HTTP listener and the delivery worker; returns the listening address. */
  start(): Promise<string>;
  /** Stops taking requests, lets attempts in flight finish within the grace period, closes the database. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The composition root: the one place that builds every concrete part and wires them
 * together. Everything below receives its collaborators as arguments.
 */
export async function buildService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db = openDatabase(config.database);
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

  const auth = new AuthService(db, config.tokenTtlMs);
  if (config.admin && (await auth.ensureFirstAdmin(config.admin))) {
    logger.info({ email: config.admin.email }, 'first Admin created from ADMIN_EMAIL');
  } else if ((await auth.countUsers()) === 0) {
    logger.warn('the database has no users; set ADMIN_EMAIL and ADMIN_PASSWORD and restart to create the first Admin');
  }

  const policy = new AddressPolicy(config.webhook.allowedCidrs);
  const outbound = new OutboundClient({
    policy,
    timeoutMs: config.webhook.timeoutMs,
    connectionsPerOrigin: config.webhook.endpointConcurrency,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  const sender = new DeliverySender(outbound);
  const metrics = new ServiceMetrics(db);
  const worker = new DeliveryWorker(db, new DeliveryStore(db), sender, logger.child({ component: 'worker' }), {
    maxInFlight: config.webhook.maxInFlight,
    endpointConcurrency: config.webhook.endpointConcurrency,
    retryScheduleMs: config.webhook.retryScheduleMs,
    timeoutMs: config.webhook.timeoutMs,
    pollIntervalMs: WORKER_POLL_MS,
    onAttempt: (outcome) => metrics.recordAttempt(outcome),
  });

  const webhooks = new WebhookService(db, {
    destinations: new DestinationChecker(policy, config.webhook.allowedPorts, options.lookup),
    sender,
    onChange: () => worker.webhooksChanged(),
  });
  const reports = new ReportService(db, {
    approvalStages: config.approvalStages,
    firstDelayMs: config.webhook.retryScheduleMs[0] ?? 0,
    onDeliveriesCreated: () => worker.wake(),
  });
  const deliveries = new DeliveryService(db, () => worker.wake());

  const app = createHttpServer(logger);
  // Loads the OpenAPI generator now, because it documents only the routes added after it loads.
  await app.after();
  const routes = collectRoutes(app);
  registerRequestLogging(app);
  registerAuthGuard(app, auth);
  registerHealthRoutes(app, {
    db,
    worker,
    log: logger,
    staleAfterMs: config.webhook.timeoutMs + 3 * WORKER_POLL_MS + 10_000,
  });
  registerMetricsRoute(app, metrics, config.metricsToken);
  registerApiDocs(app);
  registerAuthRoutes(app, auth);
  registerWebhookRoutes(app, webhooks);
  registerLegacyWebhookRoutes(app, webhooks);
  registerDeliveryRoutes(app, deliveries);
  registerReportRoutes(app, reports);
  registerEventRoutes(app);

  let closed = false;
  return {
    app,
    db,
    worker,
    logger,
    metrics,
    routes,
    async start() {
      const address = await app.listen({ port: config.port, host: config.host });
      await worker.start();
      return address;
    },
    async close(graceMs = config.shutdownGraceMs) {
      if (closed) return;
      closed = true;
      logger.info({ grace_ms: graceMs }, 'stopping: closing the HTTP server');
      await app.close();
      await worker.stop(graceMs);
      await outbound.close();
      await db.destroy();
    },
  };
}

function collectRoutes(app: App): RouteInfo[] {
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hidden = route.schema?.hide === true;
    for (const method of methods) routes.push({ method, url: route.url, hidden });
  });
  return routes;
}
