import type { Transaction } from 'kysely';
import type { Principal } from '../auth/service.js';
import type { Db } from '../db/database.js';
import { PreparedQuery } from '../db/prepared.js';
import type { Database, ReportRow, ReportStatus } from '../db/schema.js';
import { AppError, notFound } from '../errors.js';
import type { ReportEventType } from '../events/catalog.js';
import {
  approvalBody,
  completionBody,
  rejectionBody,
  submissionBody,
} from '../events/payloads.js';
import type { Handoff } from '../delivery/handoff.js';
import { inTransactionWithHandoff, recordEvent } from '../events/service.js';
import { newId } from '../ids.js';
import { requireLine, requireText } from '../text.js';

/** Maximum length of a report's type, title, reference and client. */
const MAX_LINE_LENGTH = 200;

export interface ReportInput {
  type: string;
  title: string;
  reference: string;
  client: string;
}

export interface PublicReport {
  id: string;
  type: string;
  title: string;
  reference: string;
  client: string;
  status: ReportStatus;
  approved_stages: number;
  approval_stages: number;
  created_by: string;
  submitted_by: string | null;
  rejection_reason: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface ReportServiceOptions {
  readonly approvalStages: number;
  readonly firstDelayMs: number;
  /** Called after a commit that queued deliveries, so a worker claims them at once. */
  readonly onDeliveriesCreated: () => void;
  /** Opens a handoff to this process's worker, when it runs one. */
  readonly openHandoff?: (() => Handoff) | undefined;
  readonly now?: () => number;
}

/** The context of the request that changes a report. */
export interface Actor {
  readonly principal: Principal;
  readonly requestId: string | null;
}

interface Transition {
  readonly from: readonly ReportStatus[];
  readonly verb: string;
  readonly event: ReportEventType;
  apply(report: ReportRow, now: number): Partial<ReportRow>;
  body(updated: ReportRow, now: number): Record<string, unknown>;
}

/**
 * The report workflow: DRAFT → PENDING (submit) → approved stage by stage → APPROVED →
 * COMPLETED, with REJECTED from any pending stage and resubmission after a rejection. Each
 * transition and its event are committed in one transaction.
 */
export class ReportService {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly options: ReportServiceOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  async create(input: ReportInput, actor: Actor): Promise<PublicReport> {
    const now = this.#now();
    const row: ReportRow = {
      id: newId('rpt'),
      type: requireLine(input.type, 'type', MAX_LINE_LENGTH),
      title: requireLine(input.title, 'title', MAX_LINE_LENGTH),
      reference: requireLine(input.reference, 'reference', MAX_LINE_LENGTH),
      client: requireLine(input.client, 'client', MAX_LINE_LENGTH),
      status: 'DRAFT',
      approved_stages: 0,
      created_by: actor.principal.email,
      submitted_by: null,
      rejection_reason: null,
      created_at: now,
      updated_at: now,
      completed_at: null,
    };
    await this.db.insertInto('reports').values(row).execute();
    return this.#toPublic(row);
  }

  async list(limit: number): Promise<PublicReport[]> {
    const rows = await this.db.selectFrom('reports').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((row) => this.#toPublic(row));
  }

  async get(id: string): Promise<PublicReport> {
    return this.#toPublic(await this.#load(this.db, id));
  }

  submit(id: string, actor: Actor): Promise<PublicReport> {
    return this.#transition(id, actor, {
      from: ['DRAFT', 'REJECTED'],
      verb: 'submitted',
      event: 'submission',
      apply: (report, now) => {
        const owner = report.created_by === actor.principal.email;
        if (!owner && actor.principal.role !== 'Admin') {
          throw new AppError('forbidden', 'Only the engineer who created a report or an Admin can submit it.');
        }
        return {
          status: 'PENDING',
          approved_stages: 0,
          submitted_by: actor.principal.email,
          rejection_reason: null,
          updated_at: now,
        };
      },
      body: (updated) => submissionBody(updated),
    });
  }

  approve(id: string, actor: Actor): Promise<PublicReport> {
    const stages = this.options.approvalStages;
    return this.#transition(id, actor, {
      from: ['PENDING'],
      verb: 'approved',
      event: 'approval',
      apply: (report, now) => {
        const stage = report.approved_stages + 1;
        return { approved_stages: stage, status: stage >= stages ? 'APPROVED' : 'PENDING', updated_at: now };
      },
      body: (updated) => approvalBody(updated, updated.approved_stages, actor.principal.email),
    });
  }

  reject(id: string, reason: string, actor: Actor): Promise<PublicReport> {
    const text = requireText(reason, 'reason', 2000);
    return this.#transition(id, actor, {
      from: ['PENDING'],
      verb: 'rejected',
      event: 'rejection',
      apply: (_report, now) => ({ status: 'REJECTED', rejection_reason: text, updated_at: now }),
      body: (updated) =>
        rejectionBody(updated, updated.approved_stages + 1, actor.principal.email, text),
    });
  }

  complete(id: string, actor: Actor): Promise<PublicReport> {
    return this.#transition(id, actor, {
      from: ['APPROVED'],
      verb: 'completed',
      event: 'completion',
      apply: (_report, now) => ({ status: 'COMPLETED', completed_at: now, updated_at: now }),
      body: (updated, now) => completionBody(updated, now),
    });
  }

  async #transition(id: string, actor: Actor, transition: Transition): Promise<PublicReport> {
    const now = this.#now();
    const { report, queued } = await inTransactionWithHandoff(this.db, this.options.openHandoff, async (trx, handoff) => {
      const current = await this.#load(trx, id);
      if (!transition.from.includes(current.status)) {
        throw new AppError(
          'invalid_transition',
          `Report ${id} is ${current.status}; only a report that is ` +
            `${transition.from.join(' or ')} can be ${transition.verb}.`,
        );
      }

      const changes = transition.apply(current, now);
      const next: ReportRow = { ...current, ...changes };
      const result = await WRITE_TRANSITION.execute(
        trx,
        next.status,
        next.approved_stages,
        next.submitted_by,
        next.rejection_reason,
        next.completed_at,
        next.updated_at,
        id,
        current.status,
        current.approved_stages,
      );
      if (Number(result.numAffectedRows) !== 1) {
        throw new AppError('conflict', `Report ${id} changed during the request; try again.`);
      }

      const event = await recordEvent(trx, {
        type: transition.event,
        body: transition.body(next, now),
        requestId: actor.requestId,
        now,
        firstDelayMs: this.options.firstDelayMs,
        handoff,
      });
      return { report: next, queued: event.queuedCount };
    });

    if (queued > 0) this.options.onDeliveriesCreated();
    return this.#toPublic(report);
  }

  async #load(db: Db | Transaction<Database>, id: string): Promise<ReportRow> {
    const row = (await LOAD_REPORT.execute(db, id)).rows[0];
    if (!row) throw notFound('report', id);
    return row;
  }

  #toPublic(row: ReportRow): PublicReport {
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: row.id,
      type: row.type,
      title: row.title,
      reference: row.reference,
      client: row.client,
      status: row.status,
      approved_stages: row.approved_stages,
      approval_stages: this.options.approvalStages,
      created_by: row.created_by,
      submitted_by: row.submitted_by,
      rejection_reason: row.rejection_reason,
      created_at: new Date(row.created_at).toISOString(),
      updated_at: new Date(row.updated_at).toISOString(),
      completed_at: iso(row.completed_at),
    };
  }
}

const LOAD_REPORT = new PreparedQuery<[id: string], ReportRow>(1, (db, id) =>
  db.selectFrom('reports').selectAll().where('id', '=', id),
);

/**
 * Writes every column a transition may change, on the condition that the report is still in
 * the state the transition was decided from. After a concurrent transition it matches no row.
 */
const WRITE_TRANSITION = new PreparedQuery<
  [
    status: ReportStatus,
    approvedStages: number,
    submittedBy: string | null,
    rejectionReason: string | null,
    completedAt: number | null,
    updatedAt: number,
    id: string,
    fromStatus: ReportStatus,
    fromStages: number,
  ],
  never
>(9, (db, status, approvedStages, submittedBy, rejectionReason, completedAt, updatedAt, id, fromStatus, fromStages) =>
  db
    .updateTable('reports')
    .set({
      status,
      approved_stages: approvedStages,
      submitted_by: submittedBy,
      rejection_reason: rejectionReason,
      completed_at: completedAt,
      updated_at: updatedAt,
    })
    .where('id', '=', id)
    .where('status', '=', fromStatus)
    .where('approved_stages', '=', fromStages),
);
