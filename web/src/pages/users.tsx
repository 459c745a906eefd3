import { useEffect, useState } from 'preact/hooks';
import { api, type ManagedUser, type Role } from '../api.js';
import { Alert, FieldError, TextField } from '../components/field.js';
import { useFormErrors } from '../components/form-errors.js';
import { Toggle } from '../components/toggle.js';
import { errorMessage, formatTime } from '../format.js';
import { useSession } from '../session.js';

const ROLES: readonly Role[] = ['Admin', 'Engineer', 'Approver'];

/** Admins create users, change roles and deactivate users; the API keeps one active Admin. */
export function UsersPage() {
  const { user: me } = useSession();
  const [users, setUsers] = useState<ManagedUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api
      .get<{ data: ManagedUser[] }>('/api/v1/users')
      .then((list) => setUsers(list.data))
      .catch((caught: unknown) => setError(errorMessage(caught)));
  useEffect(() => void load(), []);

  const change = async (target: ManagedUser, patch: { role?: Role; is_active?: boolean }) => {
    setError(null);
    try {
      const updated = await api.patch<ManagedUser>(`/api/v1/users/${target.id}`, patch);
      setUsers((list) => list?.map((item) => (item.id === updated.id ? updated : item)) ?? null);
    } catch (caught) {
      setError(`Could not change ${target.email}: ${errorMessage(caught)}`);
      void load();
    }
  };

  return (
    <section aria-labelledby="users-title" class="stack">
      <h1 id="users-title">Users</h1>
      {error && <Alert>{error}</Alert>}
      {users === null && !error && <p class="muted">Loading users…</p>}
      {users !== null && (
        <div class="table-wrap">
          <table class="table responsive">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Active</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr key={user.id}>
                  <td data-label="Email">
                    {user.email} {user.id === me.id && <span class="muted small">(you)</span>}
                  </td>
                  <td data-label="Role">
                    <select
                      aria-label={`Role of ${user.email}`}
                      value={user.role}
                      onChange={(event) =>
                        void change(user, {
                          role: (event.target as HTMLSelectElement).value as Role,
                        })
                      }
                    >
                      {ROLES.map((role) => (
                        <option key={role} value={role}>
                          {role}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td data-label="Active">
                    <Toggle
                      checked={user.is_active}
                      label={`${user.email} active`}
                      onChange={(checked) => void change(user, { is_active: checked })}
                    />
                  </td>
                  <td data-label="Created">{formatTime(user.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <NewUserForm onCreated={(created) => setUsers((list) => [...(list ?? []), created])} />
    </section>
  );
}

function NewUserForm({ onCreated }: { onCreated: (user: ManagedUser) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('Engineer');
  const [notice, setNotice] = useState<string | null>(null);
  const errors = useFormErrors();

  const submit = async (event: Event) => {
    event.preventDefault();
    errors.clear();
    setNotice(null);
    try {
      const created = await api.post<ManagedUser>('/api/v1/users', { email, password, role });
      onCreated(created);
      setNotice(`${created.email} can now sign in as ${created.role}.`);
      setEmail('');
      setPassword('');
    } catch (caught) {
      errors.show(caught);
    }
  };

  return (
    <form class="card form" onSubmit={submit} noValidate aria-labelledby="new-user-title">
      <h2 id="new-user-title">Add a user</h2>
      {errors.general && <Alert>{errors.general}</Alert>}
      {notice && <Alert tone="success">{notice}</Alert>}
      <div class="form-row">
        <TextField
          id="new-email"
          label="Email"
          type="email"
          value={email}
          onInput={setEmail}
          error={errors.of('email')}
          autoComplete="off"
          required
        />
        <TextField
          id="new-password"
          label="Password"
          type="password"
          value={password}
          onInput={setPassword}
          error={errors.of('password')}
          hint="At least 12 characters."
          autoComplete="new-password"
          required
        />
        <div class="field">
          <label for="new-role">Role</label>
          <select
            id="new-role"
            value={role}
            onChange={(event) => setRole((event.target as HTMLSelectElement).value as Role)}
          >
            {ROLES.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
          <FieldError id="new-role-error" message={errors.of('role')} />
        </div>
      </div>
      <div class="actions">
        <button type="submit" class="button button-primary">
          Add user
        </button>
      </div>
    </form>
  );
}
