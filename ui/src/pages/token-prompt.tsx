import { useState } from 'react';
import { setToken } from '../token.ts';

/**
 * Asks for the API token (printed by `airless standalone`, or in `<AIRLESS_HOME>/api-token`). Shown at the
 * first visit without `?token=` and after any 401.
 */
export function TokenPrompt() {
  const [value, setValue] = useState('');
  return (
    <div className="token-prompt" data-testid="token-prompt">
      <h1>airless</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim() !== '') setToken(value.trim());
        }}
      >
        <label htmlFor="api-token">API token</label>
        <p className="hint">
          Printed by <code>airless standalone</code> at start, and kept in <code>.airless/api-token</code>.
        </p>
        <input
          id="api-token"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-testid="token-input"
        />
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </div>
  );
}
