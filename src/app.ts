import { AuthService } from './auth/service.js';
import { registerAuthGuard } from './auth/guard.js';
import { registerAuthRoutes } from './auth/routes.js';
import { registerSessionRoutes } from './auth/session-routes.js';
import { SessionService } from './auth/sessions.js';
import { LoginThrottle } from './auth/throttle.js';
import type { Config } from './config/config.js';
import { migrateToLatest, openDatabase, type Db } from './db/database.js';
import { dialectFor, type WakeSubscription, type WakeTopic } from './db/dialect/index.js';
import { AutoDisabler } from './delivery/auto-disable.js';
import { Housekeeping } from './delivery/housekeeping.js';
import { recoverWebhook } from './delivery/recovery.js';
import { RetentionPruner } from './delivery/retention.js';
import { registerDeliveryRoutes } from './delivery/routes.js';
import { DeliverySender } from './delivery/sender.js';
import { DeliveryService } from './delivery/service.js';
import { DeliveryStore } from './delivery/store.js';
import { DeliveryWorker } from './delivery/worker.js';
import { PublishService } from './events/publish.js';
import { EventTypeRegistry } from './events/registry.js';
import { registerEventRoutes } from './events/routes.js';
import { AdmissionGate, registerAdmissionControl } from './http/admission.js';
import { registerApiDocs } from './http/docs.js';
import { warmDeferredSchemas } from './http/deferred-compile.js';
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
import { registerConsoleRoutes } from './web/routes.js';

/**
 * Connections of the worker's own PostgreSQL pool. Claims run one at a time, and result
 * writes and lease reaping may run beside a claim.
 */
const WORKER_POOL_SIZE = 3;

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
  /** Started only when the role is `all` or `worker`. */
  readonly worker: DeliveryWorker;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Every route registered on the HTTP server, HEAD routes included. */
  readonly routes: readonly RouteInfo[];
  /** Background tasks, exposed so tests can run them without waiting for their interval. */
  readonly autoDisabler: AutoDisabler;
  readonly pruner: RetentionPruner;
  /** Starts the HTTP listener and the delivery worker; returns the listening address. */
  start(): Promise<string>;
  /**
   * Stops taking requests, lets HTTP requests and delivery attempts in flight finish within
   * one grace period, cuts off what remains, and closes the database.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The composition root: the one place that builds every concrete part and wires them
 * together. Everything below receives its collaborators as arguments.
 */
export async function buildService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const dialect = dialectFor(config.database);
  const db = openDatabase(config.database, logger);
  const applied = await migrateToLatest(db, dialect);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

  const throttle = new LoginThrottle(db, {
    ...config.login,
    // The email itself is not logged: a lockout often follows a mistyped or guessed address.
    onLockout: (lockout) =>
      logger.warn(
        {
          lockout_kind: lockout.kind,
          client_address: lockout.address,
          until: new Date(lockout.until).toISOString(),
        },
        'sign-in locked out after repeated failures',
      ),
  });
  const auth = new AuthService(db, config.tokenTtlMs, throttle);
  const sessions = new SessionService(db, config.sessionTtlMs);
  if (config.role !== 'worker') await createFirstAdmin(auth, config.admin, logger);

  const policy = new AddressPolicy(config.webhook.allowedCidrs);
  const outbound = new OutboundClient({
    policy,
    timeoutMs: config.webhook.timeoutMs,
    allowedPorts: config.webhook.allowedPorts,
    // A webhook may set a cap above the default, so the pool must not be the tighter limit;
    // the worker keeps the total within WEBHOOK_MAX_IN_FLIGHT.
    connectionsPerOrigin: config.webhook.maxInFlight,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  const sender = new DeliverySender(outbound);
  const admission = new AdmissionGate(config.api);
  const metrics = new ServiceMetrics(db, admission);
  const workerLog = logger.child({ component: 'worker' });
  const sends = config.role !== 'api';
  // On PostgreSQL the worker gets connections of its own when the process also serves the
  // API. In one shared pool its claims and result writes queued behind every pending API
  // request, so under load deliveries nearly stopped. SQLite keeps its one connection.
  const workerDb =
    sends && config.role !== 'worker' && config.database.dialect === 'postgres'
      ? openDatabase({ ...config.database, poolSize: WORKER_POOL_SIZE }, logger)
      : db;
  const store = new DeliveryStore(workerDb, dialect);
  const worker = new DeliveryWorker(workerDb, store, sender, workerLog, {
    maxInFlight: config.webhook.maxInFlight,
    endpointConcurrency: config.webhook.endpointConcurrency,
    retryScheduleMs: config.webhook.retryScheduleMs,
    retryJitter: config.webhook.retryJitter,
    timeoutMs: config.webhook.timeoutMs,
    leaseMarginMs: config.webhook.leaseMarginMs,
    pollIntervalMs: config.webhook.pollIntervalMs,
    onAttempt: (outcome) => metrics.recordAttempt(outcome),
  });

  // Called after commits: wakes this process's worker, if it runs one, and notifies the
  // workers of other processes. A lost notification delays work by one poll interval.
  const wakeWorkers = (topic: WakeTopic): void => {
    if (topic === 'webhooks') worker.webhooksChanged();
    else worker.wake();
    dialect.notify(db, topic).catch((error: unknown) => {
      logger.error({ err: error, topic }, 'notifying workers failed; they find the change at the next poll');
    });
  };
  const firstDelayMs = config.webhook.retryScheduleMs[0] ?? 0;
  // New deliveries go straight to this process's worker when it has a free slot for them.
  const openHandoff = sends ? () => worker.openHandoff() : undefined;

  const registry = new EventTypeRegistry(db);
  const webhooks = new WebhookService(db, {
    destinations: new DestinationChecker(policy, config.webhook.allowedPorts, options.lookup),
    sender,
    registry,
    secretOverlapMs: config.webhook.secretOverlapMs,
    onChange: () => wakeWorkers('webhooks'),
  });
  const publisher = new PublishService(db, registry, {
    maxPayloadBytes: config.webhook.maxPayloadBytes,
    firstDelayMs,
    onDeliveriesCreated: () => wakeWorkers('deliveries'),
    openHandoff,
  });
  const autoDisabler = new AutoDisabler(db, logger.child({ component: 'auto-disable' }), {
    disableAfterMs: config.webhook.disableAfterMs,
    firstDelayMs,
    onDisabled: () => wakeWorkers('webhooks'),
  });
  const pruner = new RetentionPruner(db, logger.child({ component: 'retention' }), config.retention);
  const housekeeping = new Housekeeping(
    [
      {
        name: 'auto-disable',
        // Checking four times per period keeps the overshoot under a quarter of it.
        intervalMs: Math.min(Math.max(config.webhook.disableAfterMs / 4, 100), 60_000),
        run: () => autoDisabler.run(),
      },
      { name: 'retention', intervalMs: config.retention.intervalMs, run: () => pruner.run() },
      {
        name: 'login-failures',
        // A count expires one lockout after its first failure or after its lockout ends.
        // Pruning once per lockout, at most hourly, deletes it within one more lockout.
        intervalMs: Math.min(config.login.lockoutMs, 3_600_000),
        run: () => throttle.prune(),
      },
    ],
    logger.child({ component: 'housekeeping' }),
  );
  const reports = new ReportService(db, {
    approvalStages: config.approvalStages,
    firstDelayMs,
    onDeliveriesCreated: () => wakeWorkers('deliveries'),
    openHandoff,
  });
  const deliveries = new DeliveryService(db, () => wakeWorkers('deliveries'));

  const app = createHttpServer(logger);
  const routes = collectRoutes(app);
  let closed = false;
  // Once the service is stopping, each response ends its keep-alive connection. Otherwise a
  // client could keep the idle connection open until the grace period ran out.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closed) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (_request, _reply, done) => {
    if (closed) app.server.closeIdleConnections();
    done();
  });
  registerRequestLogging(app);
  const guardOptions = { auth, sessions, publicOrigin: config.publicOrigin };
  // Hooks run in the order they are added, so a request waits for its place before the
  // auth guard looks up its token.
  registerAdmissionControl(app, admission);
  // Awaiting a plugin also loads the OpenAPI generator registered before it, which must be
  // loaded first because it documents only the routes added after it loads.
  await registerAuthGuard(app, guardOptions);
  registerHealthRoutes(app, {
    db,
    worker: sends ? worker : undefined,
    role: config.role,
    log: logger,
    staleAfterMs: config.webhook.timeoutMs + 3 * config.webhook.pollIntervalMs + 10_000,
  });
  registerMetricsRoute(app, metrics, config.metricsToken);
  // A worker process serves only health and metrics.
  if (config.role !== 'worker') {
    registerApiDocs(app);
    registerAuthRoutes(app, auth);
    registerSessionRoutes(app, guardOptions);
    registerWebhookRoutes(app, webhooks);
    registerLegacyWebhookRoutes(app, webhooks);
    registerDeliveryRoutes(app, deliveries, async (webhookId, since) => {
      const result = await recoverWebhook(db, webhookId, since, config.webhook.recoveryRate, Date.now());
      wakeWorkers('deliveries');
      return result;
    });
    registerReportRoutes(app, reports);
    registerEventRoutes(app, registry, publisher);
    await registerConsoleRoutes(app, { sessions, logger });
  }

  let subscription: WakeSubscription | undefined;
  return {
    app,
    db,
    worker,
    logger,
    metrics,
    routes,
    autoDisabler,
    pruner,
    async start() {
      const address = await app.listen({ port: config.port, host: config.host });
      if (sends) {
        subscription = await dialect.listen(workerLog, (topic) =>
          topic === 'webhooks' ? worker.webhooksChanged() : worker.wake(),
        );
        await worker.start();
        housekeeping.start();
      }
      logger.info({ role: config.role, database: dialect.name }, 'service started');
      // The route schemas compile now, between deliveries and requests, and not inside the
      // first request to each route.
      void warmDeferredSchemas({
        stopped: () => closed,
        onError: (error, schema) =>
          logger.error({ err: error, schema }, 'compiling a route schema failed; requests that need it will fail'),
      });
      return address;
    },
    async close(graceMs = config.shutdownGraceMs) {
      if (closed) return;
      closed = true;
      logger.info({ grace_ms: graceMs }, 'stopping: closing the HTTP server');
      housekeeping.stop();
      // One grace period bounds HTTP requests and attempts in flight together. The worker
      // starts no new attempt, because the cut-off would likely cause it to be sent twice.
      // A request still open when the period ends, such as a body that never ends, is cut off.
      const cutOff = setTimeout(() => {
        app.server.getConnections((_error, open) => {
          if (open > 0) logger.warn({ connections: open, grace_ms: graceMs }, 'closing HTTP connections still open after the grace period');
          app.server.closeAllConnections();
        });
      }, graceMs);
      const httpClosed = app.close().finally(() => clearTimeout(cutOff));
      await Promise.all([httpClosed, sends ? worker.stop(graceMs) : undefined]);
      await subscription?.close();
      await outbound.close();
      if (workerDb !== db) await workerDb.destroy();
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

async function createFirstAdmin(auth: AuthService, admin: Config['admin'], logger: Logger): Promise<void> {
  try {
    const created = admin ? await auth.ensureFirstAdmin(admin) : undefined;
    if (created) {
      // Logged by user id, not by address, so no log line carries a user's email.
      logger.info({ user_id: created.id }, 'first Admin created from ADMIN_EMAIL');
      return;
    }
  } catch (error) {
    // Instances that start together on one database race to create the Admin; the losers
    // fail on the unique email and find the winner's user.
    if ((await auth.countUsers()) === 0) throw error;
    logger.info({ err: error }, 'first Admin was created by another instance');
    return;
  }
  if ((await auth.countUsers()) === 0) {
    logger.warn('the database has no users; set ADMIN_EMAIL and ADMIN_PASSWORD and restart to create the first Admin');
  }
}
