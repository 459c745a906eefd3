import { useState } from 'preact/hooks';
import { api, setCsrfToken, type Session } from '../api.js';
import { Alert, TextField } from '../components/field.js';
import { useFormErrors } from '../components/form-errors.js';
import { safeNext } from '../session.js';

export function LoginPage() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const next = safeNext(new URLSearchParams(window.location.search).get('next') ?? undefined);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    errors.clear();
    try {
      const session = await api.post<Session>('/api/v1/auth/login', { email, password });
      setCsrfToken(session.csrf_token);
      window.location.assign(next);
    } catch (error) {
      errors.show(error);
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} noValidate>
        <h1>Sign in</h1>
        <p class="muted">Report webhooks console</p>
        {errors.general && <Alert>{errors.general}</Alert>}
        <TextField
          id="email"
          label="Email"
          type="email"
          value={email}
          onInput={setEmail}
          error={errors.of('email')}
          autoComplete="username"
          required
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          value={password}
          onInput={setPassword}
          error={errors.of('password')}
          autoComplete="current-password"
          required
        />
        <button type="submit" class="button button-primary button-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
