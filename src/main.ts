#!/usr/bin/env node
import { buildService } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { formatDuration } from './config/duration.js';

function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(78);
  }
  throw error;
}

/** The URL without its password, for the log. */
function redactUrl(text: string): string {
  const url = new URL(text);
  if (url.password !== '') url.password = '********';
  return url.toString();
}

let config: Config;
let service: Awaited<ReturnType<typeof buildService>>;
try {
  config = loadConfig(process.env);
  service = await buildService(config);
} catch (error) {
  exitOnConfigError(error);
}
const { logger } = service;

logger.info(
  {
    role: config.role,
    database: config.database.dialect === 'sqlite' ? config.database.file : redactUrl(config.database.url),
    database_pool_size: config.database.dialect === 'postgres' ? config.database.poolSize : undefined,
    admin_email: config.admin ? 'set' : 'not set',
    admin_password: config.admin ? 'set' : 'not set',
    webhook_timeout: formatDuration(config.webhook.timeoutMs),
    retry_schedule: config.webhook.retryScheduleMs.map(formatDuration).join(','),
    allowed_cidrs: config.webhook.allowedCidrs,
    disable_after: formatDuration(config.webhook.disableAfterMs),
    secret_overlap: formatDuration(config.webhook.secretOverlapMs),
    retention: formatDuration(config.retention.maxAgeMs),
  },
  'configuration loaded',
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  try {
    await service.close();
    logger.info('stopped');
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  const address = await service.start();
  logger.info({ address }, 'listening');
} catch (error) {
  logger.fatal({ err: error }, 'start failed');
  await service.close(0).catch(() => undefined);
  process.exit(1);
}
