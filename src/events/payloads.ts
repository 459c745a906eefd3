import type { ReportRow } from '../db/schema.js';

/** Builds the `report` object that every report event carries. */
export function reportSummary(report: ReportRow): Record<string, unknown> {
  return {
    id: report.id,
    type: report.type,
    title: report.title,
    reference: report.reference,
    client: report.client,
    submitted_by: report.submitted_by,
    status: report.status,
  };
}

export function submissionBody(report: ReportRow): Record<string, unknown> {
  return { report: reportSummary(report) };
}

export function approvalBody(report: ReportRow, stage: number, approver: string): Record<string, unknown> {
  return { report: reportSummary(report), approval: { stage, approver } };
}

export function rejectionBody(
  report: ReportRow,
  stage: number,
  rejector: string,
  reason: string,
): Record<string, unknown> {
  return { report: reportSummary(report), rejection: { stage, rejector, reason } };
}

export function completionBody(report: ReportRow, completedAt: number): Record<string, unknown> {
  return { report: reportSummary(report), completion_time: new Date(completedAt).toISOString() };
}
