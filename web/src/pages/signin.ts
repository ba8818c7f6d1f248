import { ApiError, call, type RepoInfo } from '../api.ts';
import { h } from '../dom.ts';
import { go } from '../router.ts';
import { signIn, signOut } from '../session.ts';

/** Sign in with a token: checked against the server, then kept in sessionStorage for this tab only. */
export async function signInPage(): Promise<Node> {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false', size: 50 });
  const problem = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'stack', id: 'signin' },
    h('label', { for: 'token' }, 'Token', input),
    h('p', { class: 'muted' }, 'A dvx token (dvx_…), created with `dvx-server token create`. It is kept in this tab only and sent as a header.'),
    h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    problem,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    try {
      await call<{ repos: RepoInfo[] }>('GET', '/repos', undefined, t);
      signIn(t);
      go('#/repos');
    } catch (err) {
      signOut();
      problem.hidden = false;
      problem.textContent = err instanceof ApiError && err.status === 401 ? 'This token is unknown or revoked.' : `Sign-in failed: ${(err as Error).message}`;
    }
  });
  queueMicrotask(() => input.focus());
  return h('section', null, h('h1', null, 'Sign in'), form);
}
