import { useSession } from '../session.js';

export function ForbiddenPage() {
  const { user } = useSession();
  return (
    <section class="error-page" aria-labelledby="forbidden-title">
      <p class="error-code">403</p>
      <h1 id="forbidden-title">This page needs the Admin role</h1>
      <p>
        You are signed in as {user.email} with the {user.role} role. Ask an Admin to change your
        role if you need to manage webhooks or users.
      </p>
      <a class="button" href="/console/reports">
        Go to reports
      </a>
    </section>
  );
}

export function NotFoundPage() {
  return (
    <section class="error-page" aria-labelledby="not-found-title">
      <p class="error-code">404</p>
      <h1 id="not-found-title">No such page</h1>
      <a class="button" href="/console">
        Go to the console
      </a>
    </section>
  );
}
