import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { withStatementCache } from '../src/db/statement-cache.js';

describe('statement cache', () => {
  it('reuses the statement for the same SQL', () => {
    const database = withStatementCache(new SQLite(':memory:'));
    const first = database.prepare('SELECT 1 AS one');
    assert.equal(database.prepare('SELECT 1 AS one'), first);
    assert.deepEqual(first.all([]), [{ one: 1 }]);
    database.close();
  });

  it('drops the least recently used statement when full', () => {
    const database = withStatementCache(new SQLite(':memory:'), 2);
    const one = database.prepare('SELECT 1');
    const two = database.prepare('SELECT 2');
    assert.equal(database.prepare('SELECT 1'), one);
    database.prepare('SELECT 3');
    assert.equal(database.prepare('SELECT 1'), one);
    assert.notEqual(database.prepare('SELECT 2'), two);
    database.close();
  });
});
