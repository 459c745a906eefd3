import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

export type IdPrefix = 'usr' | 'tok' | 'wh' | 'rpt' | 'evt' | 'dlv' | 'att' | 'req' | 'wrk';

/**
 * Creates a prefixed ULID such as `evt_01JF…`. ULIDs sort by creation time, so ordering by
 * id is ordering by creation, and the prefix shows which table an id belongs to.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${nextUlid()}`;
}
