import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrfToken, type Session } from './api.js';
import { Layout } from './components/layout.js';
import { ForbiddenPage, NotFoundPage } from './pages/errors.js';
import { LoginPage } from './pages/login.js';
import { ReportsPage } from './pages/reports.js';
import { UsersPage } from './pages/users.js';
import { DeliveryPage } from './pages/delivery.js';
import { WebhookDetailPage } from './pages/webhook-detail.js';
import { WebhookFormPage } from './pages/webhook-form.js';
import { WebhookListPage } from './pages/webhooks.js';
import { SessionContext } from './session.js';

export function App() {
  return (
    <LocationProvider>
      <Pages />
    </LocationProvider>
  );
}

/** Renders the login page on its own, and every other page inside the signed-in layout. */
function Pages() {
  const { path } = useLocation();
  return path === '/console/login' ? <LoginPage /> : <SignedIn />;
}

/** Loads the session, then draws the page for the path inside the layout. */
function SignedIn() {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<Session>('/api/v1/auth/session')
      .then((loaded) => {
        setCsrfToken(loaded.csrf_token);
        setSession(loaded);
      })
      .catch((caught: unknown) => {
        // A 401 has already sent the browser to the login page.
        if (caught instanceof ApiError && caught.status === 401) return;
        setError(caught instanceof Error ? caught.message : String(caught));
      });
  }, []);

  if (error !== null)
    return (
      <p class="page-message" role="alert">
        {error}
      </p>
    );
  if (session === null) return <p class="page-message">Loading…</p>;

  const signOut = async () => {
    await api.post('/api/v1/auth/logout').catch(() => undefined);
    setCsrfToken(null);
    window.location.assign('/console/login');
  };
  const isAdmin = session.user.role === 'Admin';
  const adminOnly = (page: preact.ComponentType) => (isAdmin ? page : ForbiddenPage);

  return (
    <SessionContext.Provider value={{ user: session.user, signOut }}>
      <Layout>
        <Router>
          <Route path="/webhooks/manage" component={adminOnly(WebhookListPage)} />
          <Route path="/webhooks/manage/new" component={adminOnly(WebhookFormPage)} />
          <Route path="/webhooks/manage/:id/edit" component={adminOnly(WebhookFormPage)} />
          <Route
            path="/webhooks/manage/:id/deliveries/:deliveryId"
            component={adminOnly(DeliveryPage)}
          />
          <Route path="/webhooks/manage/:id" component={adminOnly(WebhookDetailPage)} />
          <Route path="/console/users" component={adminOnly(UsersPage)} />
          <Route path="/console/reports" component={ReportsPage} />
          <Route default component={NotFoundPage} />
        </Router>
      </Layout>
    </SessionContext.Provider>
  );
}
