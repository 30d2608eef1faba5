import { ParleyError, type ParleyClient, type User } from '@parley/sdk';
import { useState } from 'preact/hooks';

const MESSAGES: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken.',
  validation_failed: 'Check the fields: usernames are 3–32 of a–z, 0–9, _ . - and passwords at least 8 characters.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
};

function describe(error: unknown): string {
  if (error instanceof ParleyError) return MESSAGES[error.code] ?? error.detail ?? error.title ?? 'Something went wrong.';
  return 'The server cannot be reached.';
}

/** Sign in, or create an account with the built-in provider. */
export function SignIn({ client, onSignedIn }: { client: ParleyClient; onSignedIn: (user: User) => void }) {
  const [mode, setMode] = useState<'sign-in' | 'register'>('sign-in');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const username = String(form.get('username') ?? '').trim().toLowerCase();
    const password = String(form.get('password') ?? '');
    const displayName = String(form.get('displayName') ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      const user =
        mode === 'register'
          ? await client.auth!.register({ username, password, ...(displayName ? { displayName } : {}) })
          : await client.auth!.login({ username, password });
      onSignedIn(user);
    } catch (caught) {
      setError(describe(caught));
    } finally {
      setBusy(false);
    }
  };

  const registering = mode === 'register';
  return (
    <main class="sign-in">
      <h1>Parley</h1>
      <form onSubmit={(event) => { submit(event).catch(() => undefined); }} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">{registering ? 'Create an account' : 'Sign in'}</h2>
        <label>
          Username
          <input name="username" autoComplete="username" required minLength={3} maxLength={32} pattern="[A-Za-z0-9_.\-]{3,32}" autoCapitalize="none" />
        </label>
        {registering && (
          <label>
            Display name <span class="hint">(optional)</span>
            <input name="displayName" autoComplete="name" maxLength={64} />
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autoComplete={registering ? 'new-password' : 'current-password'} required minLength={8} maxLength={128} />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {registering ? 'Create account' : 'Sign in'}
        </button>
        <button type="button" class="link" onClick={() => (setMode(registering ? 'sign-in' : 'register'), setError(null))}>
          {registering ? 'I have an account: sign in' : 'New here? Create an account'}
        </button>
      </form>
    </main>
  );
}
