import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { useSession } from '../session.js';

const LINKS = [
  { href: '/webhooks/manage', label: 'Webhooks', adminOnly: true },
  { href: '/console/reports', label: 'Reports', adminOnly: false },
  { href: '/console/users', label: 'Users', adminOnly: true },
] as const;

export function Layout({ children }: { children: ComponentChildren }) {
  const { user, signOut } = useSession();
  const { path } = useLocation();
  const links = LINKS.filter((link) => !link.adminOnly || user.role === 'Admin');

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/console">
          Report webhooks
        </a>
        <nav aria-label="Console">
          <ul class="nav-list">
            {links.map((link) => (
              <li key={link.href}>
                <a
                  href={link.href}
                  class="nav-link"
                  aria-current={path.startsWith(link.href) ? 'page' : undefined}
                >
                  {link.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <span class="account-name" title={user.email}>
            {user.email} <span class="role-tag">{user.role}</span>
          </span>
          <button type="button" class="button button-quiet" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
