/**
 * Airflow's connection URI form, both ways: `postgres://user:pass@host:5432/db?param=x`. Parsing follows
 * Airflow's `Connection._parse_from_uri`: the scheme is the connection type (`postgresql` read as
 * `postgres`, `-` as `_`), user info, host and schema (the path) are percent-decoded, a host may carry its
 * own protocol (`spark://k8s://10.0.0.1:443`), and the query is the extra: a JSON object of its
 * parameters, or the `__extra__` parameter's text as it is. Building follows `Connection.get_uri`.
 */
import { InvalidSecretError } from './errors.ts';
import type { ConnectionRecord } from './records.ts';

/** The query parameter that carries a connection's extra as text (Airflow's `EXTRA_KEY`). */
export const EXTRA_KEY = '__extra__';

/** A connection's fields other than its id, as a URI holds them. */
export type ConnectionFields = Omit<ConnectionRecord, 'connectionId' | 'description'>;

interface SplitUrl {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
}

/** Python's `urlsplit`, for what a connection URI needs (no fragment kept). */
function urlSplit(uri: string): SplitUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  const scheme = m ? m[1]!.toLowerCase() : '';
  let rest = m ? m[2]! : uri;
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  let netloc = '';
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, end + 2);
    rest = end < 0 ? '' : rest.slice(end + 2);
  }
  const q = rest.indexOf('?');
  return { scheme, netloc, path: q < 0 ? rest : rest.slice(0, q), query: q < 0 ? '' : rest.slice(q + 1) };
}

/** Python's `unquote`: percent-decoding that leaves a malformed escape as it is. */
export function unquote(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** Python's `quote(s, safe='')`: everything but `A-Za-z0-9_.-~` percent-encoded. */
export function quote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Python's `quote_plus` (spaces as `+`), as `urlencode` writes values. */
function quotePlus(s: string): string {
  return quote(s).replace(/%20/g, '+');
}

/** Python's `parse_qsl(query, keep_blank_values=True)` as a dict (a later key wins). */
function parseQuery(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of query.split(/[&;]/)) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    out[unquote(name.replace(/\+/g, ' '))] = unquote(value.replace(/\+/g, ' '));
  }
  return out;
}

function urlEncode(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`)
    .join('&');
}

/** The connection type a URI scheme names (Airflow's `_normalize_conn_type`). */
export function normalizeConnType(scheme: string): string {
  if (scheme === 'postgresql') return 'postgres';
  return scheme.replace(/-/g, '_');
}

function parseNetloc(netloc: string, uri: string): { host: string | null; login: string | null; password: string | null; port: number | null } {
  const at = netloc.lastIndexOf('@');
  const userinfo = at < 0 ? null : netloc.slice(0, at);
  const hostport = at < 0 ? netloc : netloc.slice(at + 1);
  let login: string | null = null;
  let password: string | null = null;
  if (userinfo !== null) {
    const colon = userinfo.indexOf(':');
    login = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? null : userinfo.slice(colon + 1);
  }
  let hostname = hostport;
  let portText: string | null = null;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
  if (bracket) {
    hostname = bracket[1]!;
    portText = bracket[2] ?? null;
  } else {
    const colon = hostport.indexOf(':');
    if (colon >= 0) {
      hostname = hostport.slice(0, colon);
      portText = hostport.slice(colon + 1);
    }
  }
  let port: number | null = null;
  if (portText) {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
      throw new InvalidSecretError(`invalid port '${portText}' in connection URI ${redactUri(uri)}`);
    }
    port = Number(portText);
  }
  // As urlsplit's hostname: lower-cased; a host that decodes to a path (a socket) keeps its case.
  let host = unquote(hostname.toLowerCase());
  if (host.includes('/')) host = unquote(hostname);
  return { host: host === '' ? null : host, login: login ? unquote(login) : null, password: password ? unquote(password) : null, port };
}

/** A URI with its password replaced by `***`, for error messages. */
export function redactUri(uri: string): string {
  return uri.replace(/^([^:]*:\/\/(?:[^@/?]*:\/\/)?[^:@/?]*:)[^@/?]*@/, '$1***@');
}

/** A connection's fields from Airflow's URI form; an InvalidSecretError names what is wrong. */
export function parseConnectionUri(uri: string): ConnectionFields {
  const schemes = uri.split('://').length - 1;
  if (schemes === 0) throw new InvalidSecretError(`invalid connection URI '${redactUri(uri)}': no '<conn_type>://' at its start`);
  if (schemes > 2) throw new InvalidSecretError(`invalid connection URI '${redactUri(uri)}': more than two '://' in it`);
  const first = urlSplit(uri);
  const rawScheme = uri.slice(0, uri.indexOf('://'));
  if (!first.scheme || first.scheme !== rawScheme.toLowerCase()) {
    throw new InvalidSecretError(`invalid connection URI '${redactUri(uri)}': '${rawScheme}' is not a URI scheme (the connection type)`);
  }
  const hostWithProtocol = schemes === 2;
  const rest = hostWithProtocol ? uri.slice(rawScheme.length + 3) : `//${uri.slice(rawScheme.length + 3)}`;
  if (hostWithProtocol) {
    const protocolPart = rest.split('://', 1)[0]!;
    if (protocolPart.includes('@') || protocolPart.includes(':')) throw new InvalidSecretError(`invalid connection URI '${redactUri(uri)}'`);
  }
  const parts = urlSplit(rest);
  const { host, login, password, port } = parseNetloc(parts.netloc, uri);
  const protocol = hostWithProtocol ? parts.scheme : null;
  const schema = parts.path.slice(1);
  let extra: string | null = null;
  if (parts.query) {
    const query = parseQuery(parts.query);
    extra = EXTRA_KEY in query ? query[EXTRA_KEY] : JSON.stringify(query);
  }
  return {
    connType: normalizeConnType(first.scheme),
    host: protocol ? `${protocol}://${host ?? ''}` : host,
    login,
    password,
    schema: schema ? unquote(schema) : null,
    port,
    extra,
  };
}

/** The extra as a JSON object, or undefined when it is not one. */
export function extraObject(extra: string | null): Record<string, unknown> | undefined {
  if (extra === null || extra === '') return undefined;
  try {
    const v: unknown = JSON.parse(extra);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Airflow's URI form of a connection (`Connection.get_uri`): parsing it gives the same fields back. */
export function connectionUri(c: ConnectionFields): string {
  let uri = `${c.connType.toLowerCase().replace(/_/g, '-')}://`;
  let host = c.host;
  if (host?.includes('://')) {
    const i = host.indexOf('://');
    uri += `${host.slice(0, i)}://`;
    host = host.slice(i + 3);
  }
  let authority = '';
  if (c.login !== null) authority += quote(c.login);
  if (c.password !== null) authority += `:${quote(c.password)}`;
  if (authority) uri += `${authority}@`;
  let hostBlock = host ? quote(host) : '';
  if (c.port) hostBlock += hostBlock === '' && authority === '' ? `@:${c.port}` : `:${c.port}`;
  if (c.schema) hostBlock += `/${quote(c.schema)}`;
  uri += hostBlock;
  if (c.extra) {
    const sep = c.schema ? '?' : '/?';
    const obj = extraObject(c.extra);
    const flat = obj && Object.values(obj).every((v) => typeof v === 'string') ? urlEncode(obj as Record<string, string>) : null;
    uri += flat ? sep + flat : sep + urlEncode({ [EXTRA_KEY]: c.extra });
  }
  return uri;
}
