#!/usr/bin/env node
import { buildService } from './app.js';
import { ConfigError, describeDatabase, loadConfig, type Config } from './config/config.js';
import { formatDuration } from './config/duration.js';
import { createLogging, type Logging } from './observability/logger.js';

function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(78);
  }
  throw error;
}

let config: Config;
let logging: Logging;
let service: Awaited<ReturnType<typeof buildService>>;
try {
  config = loadConfig(process.env);
  logging = createLogging(config.logLevel, config.logFiles);
  service = await buildService(config, { logger: logging.logger });
} catch (error) {
  exitOnConfigError(error);
}
const { logger } = service;

logger.info(
  {
    role: config.role,
    database: describeDatabase(config.database),
    database_pool_size: config.database.dialect === 'postgres' ? config.database.poolSize : undefined,
    admin_email: config.admin ? 'set' : 'not set',
    admin_password: config.admin ? 'set' : 'not set',
    webhook_timeout: formatDuration(config.webhook.timeoutMs),
    retry_schedule: config.webhook.retryScheduleMs.map(formatDuration).join(','),
    allowed_cidrs: config.webhook.allowedCidrs,
    api_concurrency: config.api.concurrency,
    api_queue_limit: config.api.queueLimit,
    log_dir: config.logFiles?.dir ?? 'not set',
    metrics_token: config.metricsToken ? 'set' : 'not set',
    shutdown_grace: formatDuration(config.shutdownGraceMs),
    disable_after: formatDuration(config.webhook.disableAfterMs),
    secret_overlap: formatDuration(config.webhook.secretOverlapMs),
    retention: formatDuration(config.retention.maxAgeMs),
  },
  'configuration loaded',
);

let stopping = false;
/**
 * Stops taking requests, gives HTTP requests and attempts in flight SHUTDOWN_GRACE to finish,
 * cuts off what remains and exits 0.
 * Attempts still running then are sent again at the next start. A second signal exits at
 * once with status 1.
 */
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal during shutdown; exiting without waiting');
    await logging.close();
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal, grace: formatDuration(config.shutdownGraceMs) }, 'shutting down');
  let status = 0;
  try {
    await service.close();
    logger.info('stopped');
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    status = 1;
  }
  await logging.close();
  process.exit(status);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  const address = await service.start();
  logger.info({ address }, 'listening');
} catch (error) {
  const hint = listenHint(error, config);
  logger.fatal({ err: error }, 'start failed');
  if (hint) process.stderr.write(`Configuration error: ${hint}\n`);
  await service.close(0).catch(() => undefined);
  await logging.close();
  process.exit(hint ? 78 : 1);
}

/** Names the variable to change when the HTTP server cannot listen where configured. */
function listenHint(error: unknown, settings: Config): string | undefined {
  const code = (error as { code?: unknown }).code;
  const where = `${settings.host}:${settings.port}`;
  if (code === 'EADDRINUSE') return `PORT: ${where} is already in use; set PORT to a free port.`;
  if (code === 'EACCES') return `PORT: listening on ${where} is not permitted; use a port above 1023.`;
  if (code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' || code === 'EAI_AGAIN') {
    return `HOST: cannot listen on "${settings.host}"; set HOST to an address of this machine, such as 127.0.0.1 or 0.0.0.0.`;
  }
  return undefined;
}
