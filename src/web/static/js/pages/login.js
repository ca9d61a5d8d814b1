// The sign-in page, shown instead of everything else until there is a session.
import { clear, errorBox, h } from '../dom.js';
import { signIn } from '../session.js';

export function render(main, { onSignedIn }) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        clear(status);
        try {
          await signIn(username.value, password.value);
          onSignedIn();
        } catch (err) {
          password.value = '';
          clear(status, errorBox(err));
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('label', { class: 'block' }, 'User name', username),
    h('label', { class: 'block' }, 'Password', password),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
    h(
      'p',
      { class: 'muted small' },
      'First start: the user is admin and its password was printed on the console of mqiot up / cloud / edge.',
    ),
  );
  main.append(h('section', { class: 'login-page' }, form));
  username.focus();
}
