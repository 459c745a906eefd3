import { useEffect, useState } from 'preact/hooks';
import { api, type Report } from '../api.js';
import { Alert, FieldError, TextField } from '../components/field.js';
import { useFormErrors } from '../components/form-errors.js';
import { StatusBadge } from '../components/outcome.js';
import { errorMessage, formatTime } from '../format.js';
import { useSession } from '../session.js';

type Transition = 'submit' | 'approve' | 'complete';

const REPORT_FIELDS = [
  { field: 'type', label: 'Type' },
  { field: 'title', label: 'Title' },
  { field: 'reference', label: 'Reference' },
  { field: 'client', label: 'Client' },
] as const;

/** Reports and their life cycle; each step fires the event that webhooks subscribe to. */
export function ReportsPage() {
  const { user } = useSession();
  const [reports, setReports] = useState<Report[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canAuthor = user.role === 'Engineer' || user.role === 'Admin';

  const load = () =>
    api
      .get<{ data: Report[] }>('/api/v1/reports')
      .then((list) => setReports(list.data))
      .catch((caught: unknown) => setError(errorMessage(caught)));
  useEffect(() => void load(), []);

  const replace = (updated: Report) =>
    setReports((list) => list?.map((item) => (item.id === updated.id ? updated : item)) ?? null);

  const transition = async (report: Report, step: Transition) => {
    setError(null);
    try {
      replace(await api.post<Report>(`/api/v1/reports/${report.id}/${step}`));
    } catch (caught) {
      setError(`Could not ${step} "${report.title}": ${errorMessage(caught)}`);
    }
  };

  return (
    <section aria-labelledby="reports-title" class="stack">
      <h1 id="reports-title">Reports</h1>
      <p class="muted">
        Engineers create and submit reports; Approvers approve, reject and complete them. Each step
        sends its event (submission, approval, rejection, completion) to the webhooks that listen
        for it.
      </p>
      {canAuthor && (
        <NewReportForm onCreated={(report) => setReports((list) => [report, ...(list ?? [])])} />
      )}
      {error && <Alert>{error}</Alert>}
      {reports !== null && reports.length === 0 && <p class="muted">No reports yet.</p>}
      {reports !== null && reports.length > 0 && (
        <div class="table-wrap">
          <table class="table responsive">
            <thead>
              <tr>
                <th scope="col">Report</th>
                <th scope="col">Client</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {reports.map((report) => (
                <tr key={report.id}>
                  <td data-label="Report">
                    <span class="strong">{report.title}</span>
                    <div class="muted small">
                      {report.type} · {report.reference} · by {report.created_by}
                    </div>
                    {report.rejection_reason && report.status === 'REJECTED' && (
                      <div class="small">Rejected: {report.rejection_reason}</div>
                    )}
                  </td>
                  <td data-label="Client">{report.client}</td>
                  <td data-label="Status">
                    <StatusBadge status={report.status} />
                    {report.status === 'PENDING' && (
                      <div class="muted small">
                        {report.approved_stages} of {report.approval_stages} approvals
                      </div>
                    )}
                  </td>
                  <td data-label="Created">{formatTime(report.created_at)}</td>
                  <td data-label="Actions">
                    <ReportActions
                      report={report}
                      onStep={(step) => void transition(report, step)}
                      onRejected={replace}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface ReportActionsProps {
  readonly report: Report;
  readonly onStep: (step: Transition) => void;
  readonly onRejected: (report: Report) => void;
}

/** The steps the signed-in user may take on a report in its current status. */
function ReportActions({ report, onStep, onRejected }: ReportActionsProps) {
  const { user } = useSession();
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const errors = useFormErrors();
  const isAdmin = user.role === 'Admin';
  const canSubmit =
    (isAdmin || (user.role === 'Engineer' && report.created_by === user.email)) &&
    (report.status === 'DRAFT' || report.status === 'REJECTED');
  const canDecide = isAdmin || user.role === 'Approver';

  const reject = async (event: Event) => {
    event.preventDefault();
    errors.clear();
    try {
      onRejected(await api.post<Report>(`/api/v1/reports/${report.id}/reject`, { reason }));
      setRejecting(false);
      setReason('');
    } catch (caught) {
      errors.show(caught);
    }
  };

  const reasonId = `reason-${report.id}`;
  return (
    <div class="row-actions">
      {canSubmit && (
        <button type="button" class="button" onClick={() => onStep('submit')}>
          Submit
        </button>
      )}
      {canDecide && report.status === 'PENDING' && (
        <>
          <button type="button" class="button" onClick={() => onStep('approve')}>
            Approve
          </button>
          <button
            type="button"
            class="button button-danger"
            onClick={() => setRejecting((open) => !open)}
            aria-expanded={rejecting}
          >
            Reject
          </button>
        </>
      )}
      {canDecide && report.status === 'APPROVED' && (
        <button type="button" class="button" onClick={() => onStep('complete')}>
          Complete
        </button>
      )}
      {rejecting && (
        <form class="reject-form" onSubmit={reject} noValidate>
          <label for={reasonId}>Reason for rejecting</label>
          <textarea
            id={reasonId}
            value={reason}
            rows={2}
            aria-invalid={errors.of('reason') ? 'true' : undefined}
            onInput={(event) => setReason((event.target as HTMLTextAreaElement).value)}
          />
          <FieldError
            id={`${reasonId}-error`}
            message={errors.of('reason') ?? errors.general ?? undefined}
          />
          <button type="submit" class="button button-danger">
            Reject report
          </button>
        </form>
      )}
    </div>
  );
}

function NewReportForm({ onCreated }: { onCreated: (report: Report) => void }) {
  const [values, setValues] = useState({ type: 'SAT', title: '', reference: '', client: '' });
  const errors = useFormErrors();
  const set = (field: keyof typeof values) => (value: string) =>
    setValues((current) => ({ ...current, [field]: value }));

  const submit = async (event: Event) => {
    event.preventDefault();
    errors.clear();
    try {
      onCreated(await api.post<Report>('/api/v1/reports', values));
      setValues({ type: 'SAT', title: '', reference: '', client: '' });
    } catch (caught) {
      errors.show(caught);
    }
  };

  return (
    <form class="card form" onSubmit={submit} noValidate aria-labelledby="new-report-title">
      <h2 id="new-report-title">New report</h2>
      {errors.general && <Alert>{errors.general}</Alert>}
      <div class="form-row">
        {REPORT_FIELDS.map(({ field, label }) => (
          <TextField
            key={field}
            id={`report-${field}`}
            label={label}
            value={values[field]}
            onInput={set(field)}
            error={errors.of(field)}
            required
          />
        ))}
      </div>
      <div class="actions">
        <button type="submit" class="button button-primary">
          Create draft
        </button>
      </div>
    </form>
  );
}
