/**
 * Secrets backends: where deployed (and, if configured, local) tasks read variables and connections
 * after the environment and before the store. SSM Parameter Store and Secrets Manager, each under a
 * prefix, read through Powertools Parameters (its providers cache each value for `maxAge` seconds), with
 * clients built as every airless client is, so `AWS_ENDPOINT_URL` points them at an emulator.
 */
import type { Logger } from '@smithy/types';
import { baseClientConfig, endpointFromEnv, type Env } from '../clients/aws-clients.ts';

/** A place holding variables and connections as text: a variable's value; a connection's URI or JSON. */
export interface SecretsBackend {
  /** Where a key is looked for, for messages: e.g. `SSM parameter /airless/variables/db_name`. */
  describeVariable(key: string): string;
  describeConnection(connectionId: string): string;
  /** A variable's value; undefined when the backend has none. */
  getVariable(key: string): Promise<string | undefined>;
  /** A connection's URI or JSON; undefined when the backend has none. */
  getConnection(connectionId: string): Promise<string | undefined>;
}

/** Which service a backend reads. */
export type SecretsBackendKind = 'ssm' | 'secretsmanager';

/** Where variables and connections are kept in a secrets backend. */
export interface SecretsBackendOptions {
  /** The service. */
  backend: SecretsBackendKind;
  /**
   * Prefix of a variable's name: variable `k` is `<prefix>k`. Default: `/airless/variables/` (SSM),
   * `airless/variables/` (Secrets Manager).
   */
  variablesPrefix?: string;
  /**
   * Prefix of a connection's name: connection `c` is `<prefix>c`. Default: `/airless/connections/`
   * (SSM), `airless/connections/` (Secrets Manager).
   */
  connectionsPrefix?: string;
  /** Seconds a value read is reused before it is read again (Powertools' `maxAge`). Default: 30. */
  maxAge?: number;
}

/** The default prefixes of each backend (Airflow's, with `airless` for `airflow`). */
export const DEFAULT_PREFIXES: Record<SecretsBackendKind, { variables: string; connections: string }> = {
  ssm: { variables: '/airless/variables/', connections: '/airless/connections/' },
  secretsmanager: { variables: 'airless/variables/', connections: 'airless/connections/' },
};

/** Default seconds a value read from a backend is cached. */
export const DEFAULT_MAX_AGE = 30;

/** The environment variables that configure the backend of a process (the CDK construct sets them on the task functions). */
export const SECRETS_ENV = {
  backend: 'AIRLESS_SECRETS_BACKEND',
  variablesPrefix: 'AIRLESS_SECRETS_VARIABLES_PREFIX',
  connectionsPrefix: 'AIRLESS_SECRETS_CONNECTIONS_PREFIX',
  maxAge: 'AIRLESS_SECRETS_MAX_AGE',
} as const;

/** As SDK_LOGGER (no `info`: the SDK then builds no entry per request), without the error lines. */
const QUIET_LOGGER = { debug: () => undefined, warn: (...a: unknown[]) => console.warn(...a), error: () => undefined } as unknown as Logger;

const NOT_FOUND = new Set(['ParameterNotFound', 'ResourceNotFoundException']);

/** Whether an error (or its cause, as Powertools wraps it) says the name does not exist. */
function isNotFound(e: unknown): boolean {
  for (let x: unknown = e, i = 0; x && i < 3; x = (x as { cause?: unknown }).cause, i++) {
    if (NOT_FOUND.has((x as { name?: string }).name ?? '')) return true;
  }
  return false;
}

interface Provider {
  get(name: string, options: { maxAge: number; decrypt?: boolean }): Promise<unknown>;
}

class ParameterBackend implements SecretsBackend {
  /** Names found missing, and when: a miss is cached as long as a value is. */
  private readonly misses = new Map<string, number>();
  private provider: Promise<Provider> | null = null;

  constructor(
    /** The provider, made on the first read (the SDK clients are loaded only by a process that reads). */
    private readonly makeProvider: () => Promise<Provider>,
    private readonly what: string,
    private readonly prefixes: { variables: string; connections: string },
    private readonly maxAge: number,
    private readonly decrypt: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  describeVariable(key: string): string {
    return `${this.what} ${this.prefixes.variables}${key}`;
  }

  describeConnection(connectionId: string): string {
    return `${this.what} ${this.prefixes.connections}${connectionId}`;
  }

  getVariable(key: string): Promise<string | undefined> {
    return this.read(`${this.prefixes.variables}${key}`);
  }

  getConnection(connectionId: string): Promise<string | undefined> {
    return this.read(`${this.prefixes.connections}${connectionId}`);
  }

  private async read(name: string): Promise<string | undefined> {
    const missed = this.misses.get(name);
    if (missed !== undefined && this.now() - missed < this.maxAge * 1000) return undefined;
    try {
      this.provider ??= this.makeProvider();
      const v = await (await this.provider).get(name, { maxAge: this.maxAge, ...(this.decrypt ? { decrypt: true } : {}) });
      if (v === undefined) return undefined;
      return typeof v === 'string' ? v : new TextDecoder().decode(v as Uint8Array);
    } catch (e) {
      if (isNotFound(e)) {
        this.misses.set(name, this.now());
        return undefined;
      }
      throw new Error(`reading ${this.what} ${name} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** A backend reading SSM Parameter Store (SecureString parameters decrypted) or Secrets Manager. */
export function secretsBackend(options: SecretsBackendOptions, env: Env = process.env): SecretsBackend {
  const defaults = DEFAULT_PREFIXES[options.backend];
  if (!defaults) throw new Error(`unknown secrets backend '${String(options.backend)}' (expected 'ssm' or 'secretsmanager')`);
  const prefixes = { variables: options.variablesPrefix ?? defaults.variables, connections: options.connectionsPrefix ?? defaults.connections };
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
  if (!Number.isFinite(maxAge) || maxAge < 0) throw new Error(`secrets backend maxAge must be a number of seconds >= 0, got ${String(options.maxAge)}`);
  // The endpoint as the SDK would resolve it from `env` (AWS_ENDPOINT_URL_SSM / _SECRETS_MANAGER / AWS_ENDPOINT_URL).
  const config = (serviceId: string) => {
    const endpoint = endpointFromEnv(serviceId, env);
    // No SDK error log: a missing name is an answer here (the next place is looked at), and any other
    // failure is thrown with the name it was reading.
    return { ...baseClientConfig(env), logger: QUIET_LOGGER, ...(endpoint ? { endpoint } : {}) };
  };
  if (options.backend === 'ssm') {
    const ssm = async (): Promise<Provider> => {
      const [{ SSMClient }, { SSMProvider }] = await Promise.all([import('@aws-sdk/client-ssm'), import('@aws-lambda-powertools/parameters/ssm')]);
      return new SSMProvider({ awsSdkV3Client: new SSMClient(config('SSM')) });
    };
    return new ParameterBackend(ssm, 'SSM parameter', prefixes, maxAge, true);
  }
  const secretsManager = async (): Promise<Provider> => {
    const [{ SecretsManagerClient }, { SecretsProvider }] = await Promise.all([import('@aws-sdk/client-secrets-manager'), import('@aws-lambda-powertools/parameters/secrets')]);
    return new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(config('Secrets Manager')) });
  };
  return new ParameterBackend(secretsManager, 'Secrets Manager secret', prefixes, maxAge, false);
}

/** The backend the environment configures (`AIRLESS_SECRETS_BACKEND` and its prefixes); none when it is unset. */
export function secretsBackendFromEnv(env: Env = process.env): SecretsBackend | undefined {
  const kind = env[SECRETS_ENV.backend];
  if (!kind) return undefined;
  if (kind !== 'ssm' && kind !== 'secretsmanager') throw new Error(`${SECRETS_ENV.backend} must be 'ssm' or 'secretsmanager', got '${kind}'`);
  const maxAgeText = env[SECRETS_ENV.maxAge];
  const maxAge = maxAgeText ? Number(maxAgeText) : undefined;
  if (maxAgeText && !Number.isFinite(maxAge)) throw new Error(`${SECRETS_ENV.maxAge} must be a number of seconds, got '${maxAgeText}'`);
  const variablesPrefix = env[SECRETS_ENV.variablesPrefix];
  const connectionsPrefix = env[SECRETS_ENV.connectionsPrefix];
  return secretsBackend(
    { backend: kind, ...(variablesPrefix ? { variablesPrefix } : {}), ...(connectionsPrefix ? { connectionsPrefix } : {}), ...(maxAge === undefined ? {} : { maxAge }) },
    env,
  );
}

let fromEnv: { backend: SecretsBackend | undefined } | undefined;

/**
 * This process's backend, as `secretsBackendFromEnv` configures it: made once, so its cache of values
 * (and Powertools') lasts across the tries a process runs (a warm Lambda's invocations).
 */
export function processSecretsBackend(): SecretsBackend | undefined {
  return (fromEnv ??= { backend: secretsBackendFromEnv() }).backend;
}
