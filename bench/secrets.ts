// The secrets benchmark (`npm run -s bench -- --only secrets`): what reading a connection costs a task,
// and what the secrets masker costs each log line.
// - Reads: `ctx.connections.get` through the SSM backend (the real SDK client and Powertools Parameters)
//   against the local SSM endpoint the e2e harness uses: the first read (the client made, one request),
//   and a read within `maxAge` (Powertools' cache: no request). Medians of 200 reads, ms.
// - Masking: 10,000 log lines of ~120 characters through `SecretsMasker.redact`, with 0, 10 and 100 secrets
//   registered (each with its percent-encoded forms), one in ten lines holding a secret. Median of 5, µs per line.
import { LocalSecretsApi } from '../e2e/secrets-api.ts';
import { secretsBackend } from '../lib/secrets/backends.ts';
import { connectionsApi, SecretLookup } from '../lib/secrets/lookup.ts';
import { SecretsMasker } from '../lib/secrets/masker.ts';

export interface SecretsScenario {
  name: 'secrets';
  /** ms of the first `connections.get` of a process (SSM client made, one GetParameter). */
  firstReadMs: number;
  /** Median ms of a `connections.get` of a new connection id (one GetParameter, client made). */
  uncachedReadMs: number;
  /** Median ms of a `connections.get` within maxAge (Powertools' cache). */
  cachedReadMs: number;
  /** GetParameter requests the local endpoint answered for the cached reads (0 expected). */
  cachedRequests: number;
  /** µs per log line through the masker, by number of registered secrets. */
  maskUsPerLine: { secrets: number; forms: number; usPerLine: number }[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const READS = 200;
const LINES = 10_000;

async function reads(): Promise<Omit<SecretsScenario, 'name' | 'maskUsPerLine'>> {
  const api = new LocalSecretsApi();
  const endpoint = await api.listen();
  try {
    const env = { AWS_ENDPOINT_URL_SSM: endpoint, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' };
    // The SDK's credential chain reads the process's environment (the endpoint checks no signature).
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' });
    for (let i = 0; i <= READS; i++) api.putParameter(`/airless/connections/db${i}`, `postgres://etl:pw-${i}-s3cret@db${i}.internal:5432/dw`);
    const connections = connectionsApi(new SecretLookup({ env: {}, backend: secretsBackend({ backend: 'ssm', maxAge: 300 }, env), masker: new SecretsMasker() }));
    let t = performance.now();
    await connections.get('db0');
    const firstReadMs = performance.now() - t;
    const uncached: number[] = [];
    for (let i = 1; i <= READS; i++) {
      t = performance.now();
      await connections.get(`db${i}`);
      uncached.push(performance.now() - t);
    }
    const before = api.calls.length;
    const cached: number[] = [];
    for (let i = 0; i < READS; i++) {
      t = performance.now();
      await connections.get(`db${i % 10}`);
      cached.push(performance.now() - t);
    }
    return { firstReadMs, uncachedReadMs: median(uncached), cachedReadMs: median(cached), cachedRequests: api.calls.length - before };
  } finally {
    await api.close();
  }
}

function masking(): SecretsScenario['maskUsPerLine'] {
  const out: SecretsScenario['maskUsPerLine'] = [];
  for (const n of [0, 10, 100]) {
    const masker = new SecretsMasker();
    const secrets = Array.from({ length: n }, (_, i) => `s3cret/value+${i}-${'x'.repeat(12)}`);
    for (const s of secrets) masker.add(s);
    const lines = Array.from({ length: LINES }, (_, i) =>
      `12:00:01.250 INFO solver channel ${i}: major cycle ${i % 7} residual 0.00${i % 10} peak ${i * 3}` +
      (n > 0 && i % 10 === 0 ? ` using ${secrets[i % n]}` : ' and nothing else of note'),
    );
    const runs: number[] = [];
    let masked = 0;
    for (let r = 0; r < 5; r++) {
      masked = 0;
      const t = performance.now();
      for (const line of lines) if (masker.redact(line) !== line) masked++;
      runs.push(((performance.now() - t) * 1000) / LINES);
    }
    const expected = n > 0 ? LINES / 10 : 0;
    if (masked !== expected) throw new Error(`masker with ${n} secrets changed ${masked} lines, expected ${expected}`);
    out.push({ secrets: n, forms: masker.size, usPerLine: median(runs) });
  }
  return out;
}

export async function runSecretsScenario(): Promise<SecretsScenario> {
  return { name: 'secrets', ...(await reads()), maskUsPerLine: masking() };
}

export function secretsTable(s: SecretsScenario): string {
  const f = (n: number, d = 3) => n.toFixed(d);
  return [
    '',
    `secrets: connections.get through the SSM backend (local endpoint, real SDK + Powertools; medians of ${READS}):`,
    `  first read of the process (client made)   ${f(s.firstReadMs, 1).padStart(9)} ms`,
    `  a read of a new id (one GetParameter)     ${f(s.uncachedReadMs).padStart(9)} ms`,
    `  a read within maxAge (cached)             ${f(s.cachedReadMs).padStart(9)} ms  (${s.cachedRequests} requests)`,
    `secrets masker, ${LINES.toLocaleString('en-US')} log lines (one in ten with a secret; median of 5):`,
    ...s.maskUsPerLine.map((m) => `  ${String(m.secrets).padStart(3)} secrets (${String(m.forms).padStart(3)} forms)            ${f(m.usPerLine).padStart(9)} µs/line`),
    '',
  ].join('\n');
}
