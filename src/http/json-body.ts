import { AppError, invalid } from '../errors.js';

/** Deepest nesting of objects and arrays a request body may have. */
export const MAX_JSON_DEPTH = 64;

interface Pending {
  readonly value: unknown;
  readonly path: readonly string[];
}

/**
 * Parses a JSON request body and rejects three things later stages cannot handle safely.
 * Deep nesting overflows the stack of recursive code such as JSON.stringify and schema
 * validation. NUL characters cannot be stored in PostgreSQL text columns, so both dialects
 * reject them here alike. The keys `__proto__` and `constructor.prototype` are the usual
 * prototype-pollution vectors. The walk is iterative, so a hostile body cannot overflow the
 * stack here either. An empty body counts as no body, because some clients send a content
 * type on every request.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError('invalid_json', `The body is not valid JSON: ${(error as Error).message}`);
  }

  const stack: Pending[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop() as Pending;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) {
        throw invalid(fieldOf(path), `${fieldOf(path)} contains a NUL character (\\u0000); remove it.`);
      }
      continue;
    }
    if (current === null || typeof current !== 'object') continue;

    if (path.length >= MAX_JSON_DEPTH) {
      const topField = fieldOf(path.slice(0, 1));
      throw invalid(topField, `${topField} is nested more than ${MAX_JSON_DEPTH} levels deep; flatten it.`);
    }
    const entries: Array<[string, unknown]> = Array.isArray(current)
      ? current.map((item, index) => [String(index), item])
      : Object.entries(current);
    for (const [key, child] of entries) {
      checkKey(key, child, path);
      stack.push({ value: child, path: [...path, key] });
    }
  }
  return value;
}

function checkKey(key: string, child: unknown, path: readonly string[]): void {
  const field = fieldOf([...path, key]);
  if (key.includes('\u0000')) {
    throw invalid(fieldOf(path), `${fieldOf(path)} has a key with a NUL character (\\u0000); remove it.`);
  }
  if (key === '__proto__') throw invalid(field, `${field}: the key __proto__ is not allowed; rename it.`);
  if (key === 'constructor' && child !== null && typeof child === 'object' && 'prototype' in child) {
    throw invalid(field, `${field}: the key constructor.prototype is not allowed; rename it.`);
  }
}

function fieldOf(path: readonly string[]): string {
  return path.length === 0 ? 'body' : path.join('.');
}
