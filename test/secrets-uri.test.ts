import { describe, expect, it } from 'vitest';
import { connectionUri, parseConnectionUri } from '../lib/secrets/connection-uri.ts';
import { Connection, connectionFromJson, connectionFromValue } from '../lib/secrets/connection.ts';
import { InvalidSecretError } from '../lib/secrets/errors.ts';

const none = { host: null, login: null, password: null, schema: null, port: null, extra: null };

// Airflow's own examples (tests/models/test_connection.py and the connection docs).
describe("Airflow's connection URI form", () => {
  it.each([
    ['scheme://user:password@host%2Flocation:1234/schema', { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: null }],
    [
      'scheme://user:password@host%2Flocation:1234/schema?extra1=a%20value&extra2=%2Fpath%2F',
      { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: JSON.stringify({ extra1: 'a value', extra2: '/path/' }) },
    ],
    [
      'scheme://user:password@host%2Flocation:1234/schema?__extra__=%7B%22my_val%22%3A+%5B%22list%22%2C+%22of%22%2C+%22values%22%5D%2C+%22extra%22%3A+%7B%22nested%22%3A+%7B%22json%22%3A+%22val%22%7D%7D%7D',
      { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: '{"my_val": ["list", "of", "values"], "extra": {"nested": {"json": "val"}}}' },
    ],
    ['scheme://user:password@host%2Flocation:1234/schema?__extra__=single+value', { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: 'single value' }],
    ['scheme://user:password@host%2Flocation:1234/schema?__extra__=arbitrary+string+%2A%29%2A%24', { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: 'arbitrary string *)*$' }],
    ['scheme://user:password@host%2Flocation:1234/schema?extra1=a%20value&extra2=', { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: '{"extra1":"a value","extra2":""}' }],
    ['scheme://user:password@host%2Flocation%3Ax%3Ay:1234/schema', { connType: 'scheme', host: 'host/location:x:y', login: 'user', password: 'password', schema: 'schema', port: 1234, extra: null }],
    ['scheme://user:password@host%2Flocation:1234', { connType: 'scheme', host: 'host/location', login: 'user', password: 'password', schema: null, port: 1234, extra: null }],
    ['scheme://%2FTmP%2F:1234', { ...none, connType: 'scheme', host: '/TmP/', port: 1234 }],
    ['scheme://', { ...none, connType: 'scheme' }],
    ['scheme://user:password%20with%20space%2F%3A%40@host:1234/schema', { connType: 'scheme', host: 'host', login: 'user', password: 'password with space/:@', schema: 'schema', port: 1234, extra: null }],
    ['postgresql://airflow:airflow@MyHost:5432/airflow', { connType: 'postgres', host: 'myhost', login: 'airflow', password: 'airflow', schema: 'airflow', port: 5432, extra: null }],
    ['google-cloud-platform://?extra__google_cloud_platform__project=airflow', { ...none, connType: 'google_cloud_platform', extra: '{"extra__google_cloud_platform__project":"airflow"}' }],
    ['spark://mysparkcluster.com:80?deploy-mode=cluster&spark_binary=command&namespace=kube+namespace', { ...none, connType: 'spark', host: 'mysparkcluster.com', port: 80, extra: '{"deploy-mode":"cluster","spark_binary":"command","namespace":"kube namespace"}' }],
    ['spark://k8s://100.68.0.1:443?deploy-mode=cluster', { ...none, connType: 'spark', host: 'k8s://100.68.0.1', port: 443, extra: '{"deploy-mode":"cluster"}' }],
    ['mysql://user:pa%3Ass@[::1]:3306/db', { connType: 'mysql', host: '::1', login: 'user', password: 'pa:ss', schema: 'db', port: 3306, extra: null }],
  ])('%s', (uri, fields) => {
    expect(parseConnectionUri(uri)).toStrictEqual(fields);
  });

  it('round-trips through getUri as Airflow does', () => {
    for (const uri of [
      'postgres://user:p%40ss%2Fword@db.example.com:5432/analytics?sslmode=require',
      'scheme://user:password@host%2Flocation:1234/schema?__extra__=single+value',
      'spark://k8s://100.68.0.1:443/?deploy-mode=cluster',
      'aws://?__extra__=%7B%22region_name%22%3A+%22eu-west-1%22%2C+%22n%22%3A+1%7D',
      'http://:1234@',
    ]) {
      const fields = parseConnectionUri(uri);
      expect(parseConnectionUri(connectionUri(fields)), uri).toStrictEqual(fields);
    }
    expect(connectionUri(parseConnectionUri('postgres://user:p%40ss@host:5432/db?sslmode=require'))).toBe('postgres://user:p%40ss@host:5432/db?sslmode=require');
    expect(connectionUri({ ...none, connType: 'google_cloud_platform', extra: '{"a":"b c"}' })).toBe('google-cloud-platform:///?a=b+c');
  });

  it('rejects what is not a connection URI, naming it without its password', () => {
    expect(() => parseConnectionUri('host:5432')).toThrow(new InvalidSecretError("invalid connection URI 'host:5432': no '<conn_type>://' at its start"));
    expect(() => parseConnectionUri('a://b://c://d')).toThrow(/more than two ':\/\/'/);
    expect(() => parseConnectionUri('postgres://u:secretpw@host:54x2/db')).toThrow("invalid port '54x2' in connection URI postgres://u:***@host:54x2/db");
    expect(() => parseConnectionUri('spark://u:p@k8s://host')).toThrow(/invalid connection URI/);
  });
});

describe('Connection', () => {
  it('parses a JSON object extra, keeps other extra as text, and hides its password from JSON.stringify', () => {
    const c = new Connection({ connectionId: 'db', ...parseConnectionUri('postgres://u:hunter22@h:5432/d?sslmode=require'), description: null });
    expect(c.extra).toStrictEqual({ sslmode: 'require' });
    expect(c.extraDejson).toStrictEqual({ sslmode: 'require' });
    expect(c.getUri()).toBe('postgres://u:hunter22@h:5432/d?sslmode=require');
    expect(JSON.stringify(c)).not.toContain('hunter22');
    const text = new Connection({ connectionId: 'x', ...parseConnectionUri('http://h?__extra__=not+json'), description: null });
    expect(text.extra).toBe('not json');
    expect(text.extraDejson).toStrictEqual({});
  });

  it("reads Airflow's JSON form, and names a bad field", () => {
    expect(connectionFromValue('api', '{"conn_type":"http","host":"api.example.com","port":"443","extra":{"timeout":5}}', 'env')).toStrictEqual({
      connectionId: 'api',
      connType: 'http',
      host: 'api.example.com',
      login: null,
      password: null,
      schema: null,
      port: 443,
      extra: '{"timeout":5}',
      description: null,
    });
    expect(() => connectionFromJson('api', '{"conn_type":"http","hots":"x"}', 'environment variable AIRLESS_CONN_API')).toThrow(
      "connection 'api' from environment variable AIRLESS_CONN_API: unknown field 'hots' (fields: conn_type, host, login, password, schema, port, extra, description)",
    );
    expect(() => connectionFromJson('api', '{"host":"x"}', 'file c.json')).toThrow("connection 'api' from file c.json: 'conn_type' is required");
    expect(() => connectionFromJson('api', '{"conn_type":"http","port":70000}', 'f')).toThrow("'port' must be an integer from 0 to 65535");
  });
});
