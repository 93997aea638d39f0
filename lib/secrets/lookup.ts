/**
 * Where a task's `ctx.variables.get` and `ctx.connections.get` look, in Airflow's order: the environment
 * (`AIRLESS_VAR_<KEY>`, `AIRLESS_CONN_<ID>`, upper-cased; a connection as a URI or JSON), then the
 * secrets backend when one is configured, then the store. What they return that is secret is registered
 * with the secrets masker, so it shows as `***` in the task's log.
 */
import type { Env } from '../clients/aws-clients.ts';
import type { SecretsBackend } from './backends.ts';
import { Connection, connectionFromValue } from './connection.ts';
import { ConnectionNotFoundError, InvalidSecretError, VariableNotFoundError } from './errors.ts';
import { isSensitiveKey, secretsMasker, type SecretsMasker } from './masker.ts';
import type { ConnectionRecord, SecretsStore } from './records.ts';

/** The environment variable of a variable: `AIRLESS_VAR_<KEY upper-cased>`. */
export const variableEnvName = (key: string): string => `AIRLESS_VAR_${key.toUpperCase()}`;
/** The environment variable of a connection: `AIRLESS_CONN_<ID upper-cased>`. */
export const connectionEnvName = (connectionId: string): string => `AIRLESS_CONN_${connectionId.toUpperCase()}`;

/** `ctx.variables`: Airflow's `Variable.get`. */
export interface VariablesApi {
  /** The variable's text; a {@link VariableNotFoundError} naming where it looked when there is none. */
  get(key: string, options?: { json?: false }): Promise<string>;
  /** The variable's text, or `default` when there is none. */
  get<D>(key: string, options: { default: D; json?: false }): Promise<string | D>;
  /** The variable parsed as JSON (an InvalidSecretError when it is not JSON), or `default` when there is none. */
  get<T = unknown>(key: string, options: { json: true; default?: T }): Promise<T>;
}

/** `ctx.connections`: Airflow's `BaseHook.get_connection`. */
export interface ConnectionsApi {
  /** The connection; a {@link ConnectionNotFoundError} naming where it looked when there is none. */
  get(connectionId: string): Promise<Connection>;
}

export interface SecretLookupOptions {
  /** The environment read first. Default: `process.env`. */
  env?: Env;
  /** The secrets backend read second. Default: none. */
  backend?: SecretsBackend | undefined;
  /** The store read last. Default: none. */
  store?: Pick<SecretsStore, 'getVariable' | 'getConnection'> | undefined;
  /** Where secret values read are registered. Default: the process's masker. */
  masker?: SecretsMasker;
}

export class SecretLookup {
  private readonly env: Env;
  private readonly backend: SecretsBackend | undefined;
  private readonly store: Pick<SecretsStore, 'getVariable' | 'getConnection'> | undefined;
  private readonly masker: SecretsMasker;

  constructor(options: SecretLookupOptions = {}) {
    this.env = options.env ?? process.env;
    this.backend = options.backend;
    this.store = options.store;
    this.masker = options.masker ?? secretsMasker;
  }

  /** The places a variable is looked for, in order (for messages). */
  variablePlaces(key: string): string[] {
    return [`environment variable ${variableEnvName(key)}`, ...(this.backend ? [this.backend.describeVariable(key)] : []), ...(this.store ? ['the airless store'] : [])];
  }

  connectionPlaces(connectionId: string): string[] {
    return [`environment variable ${connectionEnvName(connectionId)}`, ...(this.backend ? [this.backend.describeConnection(connectionId)] : []), ...(this.store ? ['the airless store'] : [])];
  }

  /** A variable's text and where it came from; undefined when no place has it. */
  async variable(key: string): Promise<{ value: string; from: string } | undefined> {
    checkName(key, 'variable key');
    const sensitive = isSensitiveKey(key);
    const fromEnv = this.env[variableEnvName(key)];
    if (fromEnv !== undefined) {
      if (sensitive) this.masker.add(fromEnv);
      return { value: fromEnv, from: `environment variable ${variableEnvName(key)}` };
    }
    if (this.backend) {
      const v = await this.backend.getVariable(key);
      if (v !== undefined) {
        this.masker.add(v);
        return { value: v, from: this.backend.describeVariable(key) };
      }
    }
    const stored = await this.store?.getVariable(key);
    if (stored) {
      if (sensitive) this.masker.add(stored.value);
      return { value: stored.value, from: 'the airless store' };
    }
    return undefined;
  }

  /** A connection; undefined when no place has it. */
  async connection(connectionId: string): Promise<ConnectionRecord | undefined> {
    checkName(connectionId, 'connection id');
    let record: ConnectionRecord | undefined;
    const fromEnv = this.env[connectionEnvName(connectionId)];
    if (fromEnv !== undefined) {
      record = connectionFromValue(connectionId, fromEnv, `environment variable ${connectionEnvName(connectionId)}`);
    } else if (this.backend) {
      const v = await this.backend.getConnection(connectionId);
      if (v !== undefined) {
        this.masker.add(v);
        record = connectionFromValue(connectionId, v, this.backend.describeConnection(connectionId));
      }
    }
    record ??= await this.store?.getConnection(connectionId);
    if (record) {
      if (record.password !== null) this.masker.add(record.password);
      if (record.extra) {
        try {
          this.masker.addSensitiveFields(JSON.parse(record.extra));
        } catch {
          // An extra that is not JSON has no fields.
        }
      }
    }
    return record;
  }
}

function checkName(name: unknown, what: string): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
}

/** `ctx.variables` over a lookup. */
export function variablesApi(lookup: SecretLookup): VariablesApi {
  return {
    async get(key: string, options?: { default?: unknown; json?: boolean }): Promise<never> {
      const found = await lookup.variable(key);
      if (!found) {
        if (options && 'default' in options) return options.default as never;
        throw new VariableNotFoundError(key, lookup.variablePlaces(key));
      }
      if (!options?.json) return found.value as never;
      try {
        return JSON.parse(found.value) as never;
      } catch (e) {
        throw new InvalidSecretError(`variable '${key}' from ${found.from} is not JSON (asked for with json: true): ${(e as Error).message}`);
      }
    },
  } as VariablesApi;
}

/** `ctx.connections` over a lookup. */
export function connectionsApi(lookup: SecretLookup): ConnectionsApi {
  return {
    async get(connectionId: string): Promise<Connection> {
      const record = await lookup.connection(connectionId);
      if (!record) throw new ConnectionNotFoundError(connectionId, lookup.connectionPlaces(connectionId));
      return new Connection(record);
    },
  };
}
