/**
 * A local endpoint that speaks enough of SSM Parameter Store and Secrets Manager (their JSON 1.1
 * protocols: `POST /` with `X-Amz-Target`, as `@aws-sdk/client-ssm` and `@aws-sdk/client-secrets-manager`
 * send them) for airless's secrets backends, read through Powertools Parameters: `GetParameter`,
 * `GetParameters`, `GetParametersByPath`, `PutParameter` (SSM) and `GetSecretValue`, `CreateSecret`
 * (Secrets Manager). Point the real clients at it with `AWS_ENDPOINT_URL_SSM` and
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER` (one server answers both); it checks no signature. Errors are the
 * services' (`ParameterNotFound`, `ResourceNotFoundException`, `ParameterAlreadyExists`,
 * `ResourceExistsException`), in their `__type` form. Every call is recorded in {@link calls}.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackEndpoint } from './loopback-server.ts';

interface Parameter {
  name: string;
  type: 'String' | 'SecureString' | 'StringList';
  value: string;
  version: number;
  modified: number;
}

interface Secret {
  name: string;
  arn: string;
  value: string;
  versionId: string;
  created: number;
}

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface SecretsApiOptions {
  /** @default 'us-east-1' */
  region?: string;
  /** @default '000000000000' */
  accountId?: string;
}

export class LocalSecretsApi extends LoopbackEndpoint {
  private readonly parameters = new Map<string, Parameter>();
  private readonly secrets = new Map<string, Secret>();
  private readonly region: string;
  private readonly accountId: string;
  /** Every call: the operation (`AmazonSSM.GetParameter`, `secretsmanager.GetSecretValue`...) and the name(s) it asked for. */
  readonly calls: { operation: string; names: string[] }[] = [];

  constructor(options: SecretsApiOptions = {}) {
    super();
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
  }



  /** Create or overwrite a parameter (as PutParameter with Overwrite). */
  putParameter(name: string, value: string, type: Parameter['type'] = 'SecureString'): void {
    const old = this.parameters.get(name);
    this.parameters.set(name, { name, type, value, version: (old?.version ?? 0) + 1, modified: Date.now() / 1000 });
  }

  /** Create or overwrite a secret's string value. */
  putSecret(name: string, value: string): void {
    const old = this.secrets.get(name);
    const suffix = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
    this.secrets.set(name, { name, arn: old?.arn ?? `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`, value, versionId: randomUUID(), created: Date.now() / 1000 });
  }

  private parameterArn(name: string): string {
    return `arn:aws:ssm:${this.region}:${this.accountId}:parameter/${name.replace(/^\//, '')}`;
  }

  private parameterOut(p: Parameter, decrypt: boolean): Record<string, unknown> {
    // Without WithDecryption a SecureString comes back encrypted: here, visibly not the value.
    const value = p.type === 'SecureString' && !decrypt ? `encrypted:${Buffer.from(p.value).toString('base64')}` : p.value;
    return { Name: p.name, Type: p.type, Value: value, Version: p.version, LastModifiedDate: p.modified, ARN: this.parameterArn(p.name), DataType: 'text' };
  }

  private findSecret(id: string): Secret | undefined {
    return this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
  }

  private handle(operation: string, body: Record<string, any>): unknown {
    switch (operation) {
      case 'AmazonSSM.GetParameter': {
        const name = String(body.Name ?? '');
        this.calls.push({ operation, names: [name] });
        const p = this.parameters.get(name);
        if (!p) throw new ServiceError('ParameterNotFound', `Parameter ${name} not found.`);
        return { Parameter: this.parameterOut(p, body.WithDecryption === true) };
      }
      case 'AmazonSSM.GetParameters': {
        const names = (body.Names ?? []) as string[];
        this.calls.push({ operation, names });
        if (names.length < 1 || names.length > 10) throw new ServiceError('ValidationException', `Names must hold 1 to 10 names, got ${names.length}`);
        const found = names.flatMap((n) => (this.parameters.has(n) ? [this.parameterOut(this.parameters.get(n)!, body.WithDecryption === true)] : []));
        return { Parameters: found, InvalidParameters: names.filter((n) => !this.parameters.has(n)) };
      }
      case 'AmazonSSM.GetParametersByPath': {
        const path = String(body.Path ?? '');
        this.calls.push({ operation, names: [path] });
        const base = path.endsWith('/') ? path : `${path}/`;
        const all = [...this.parameters.values()]
          .filter((p) => p.name.startsWith(base) && (body.Recursive === true || !p.name.slice(base.length).includes('/')))
          .sort((a, b) => (a.name < b.name ? -1 : 1));
        const start = body.NextToken ? Number(body.NextToken) : 0;
        const max = Number(body.MaxResults ?? 10);
        const page = all.slice(start, start + max);
        return { Parameters: page.map((p) => this.parameterOut(p, body.WithDecryption === true)), ...(start + max < all.length ? { NextToken: String(start + max) } : {}) };
      }
      case 'AmazonSSM.PutParameter': {
        const name = String(body.Name ?? '');
        this.calls.push({ operation, names: [name] });
        if (this.parameters.has(name) && body.Overwrite !== true) throw new ServiceError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
        this.putParameter(name, String(body.Value ?? ''), (body.Type ?? 'String') as Parameter['type']);
        return { Version: this.parameters.get(name)!.version, Tier: 'Standard' };
      }
      case 'secretsmanager.GetSecretValue': {
        const id = String(body.SecretId ?? '');
        this.calls.push({ operation, names: [id] });
        const s = this.findSecret(id);
        if (!s) throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        return { ARN: s.arn, Name: s.name, SecretString: s.value, VersionId: s.versionId, VersionStages: ['AWSCURRENT'], CreatedDate: s.created };
      }
      case 'secretsmanager.CreateSecret': {
        const name = String(body.Name ?? '');
        this.calls.push({ operation, names: [name] });
        if (this.secrets.has(name)) throw new ServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
        this.putSecret(name, String(body.SecretString ?? ''));
        const s = this.secrets.get(name)!;
        return { ARN: s.arn, Name: s.name, VersionId: s.versionId };
      }
      default:
        throw new ServiceError('UnknownOperationException', `the local secrets endpoint does not implement ${operation}`);
    }
  }

  protected override async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const operation = String(req.headers['x-amz-target'] ?? '');
    const reply = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify(payload));
    };
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      reply(200, this.handle(operation, body));
    } catch (e) {
      if (e instanceof ServiceError) reply(e.status, { __type: e.type, message: e.message });
      else reply(500, { __type: 'InternalServerError', message: (e as Error).message });
    }
  }
}
