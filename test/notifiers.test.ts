import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag } from '../lib/authoring/dag.ts';
import { sesNotifier, snsNotifier, webhookNotifier } from '../lib/authoring/notifiers.ts';
import { task } from '../lib/authoring/operators.ts';
import { taskGroup } from '../lib/authoring/group.ts';
import { MessageTemplate, type NotificationContext } from '../lib/core/notify-template.ts';
import { DagDefinitionError } from '../lib/errors.ts';
import type { RunnerEvent } from '../lib/runner/local-runner.ts';
import { NotifyApi } from '../e2e/notify-api.ts';
import { fakeRunner } from './helpers.ts';

const CTX: NotificationContext = {
  event: 'failure',
  dagId: 'nightly',
  runId: 'manual__1',
  logicalDate: '2026-01-01T00:00:00.000Z',
  state: 'failed',
  conf: { band: 'L', n: 3 },
  exception: 'Error: boom',
  ti: { taskId: 'calibrate', mapIndex: null, tryNumber: 2 },
  deadline: null,
};

describe('message templates', () => {
  it('renders placeholders, conf keys, and null as empty', () => {
    const t = MessageTemplate.parse('{{ dag_id }} run {{run_id}} failed at {{ ti.task_id }} (try {{ ti.try_number }}): {{ exception }} band={{ conf.band }} n={{conf.n}} missing=[{{ conf.nope }}] map=[{{ ti.map_index }}]');
    expect(t.render(CTX)).toBe('nightly run manual__1 failed at calibrate (try 2): Error: boom band=L n=3 missing=[] map=[]');
    expect(MessageTemplate.parse('no placeholders').render(CTX)).toBe('no placeholders');
    expect(MessageTemplate.parse('{{ conf }}').render(CTX)).toBe('{"band":"L","n":3}');
  });

  it('refuses an unknown placeholder and an unclosed one, naming them', () => {
    expect(() => MessageTemplate.parse('{{ dag_id }} {{ task_id }}', { field: 'snsNotifier.message' })).toThrowError(
      new DagDefinitionError(
        `template "{{ dag_id }} {{ task_id }}": unknown placeholder '{{ task_id }}' at position 13 (known: dag_id, run_id, logical_date, state, event, exception, conf, ti.task_id, ti.map_index, ti.try_number, deadline.at, deadline.reference, deadline.interval, conf.<key>)`,
        { field: 'snsNotifier.message' },
      ),
    );
    expect(() => MessageTemplate.parse('oops {{ dag_id')).toThrow(`template "oops {{ dag_id": '{{' at position 5 is never closed with '}}'`);
  });

  it('refuses, when the DAG loads, a placeholder that has no value where the notifier is used', () => {
    const n = webhookNotifier({ url: 'https://hooks.example.com/x', text: '{{ dag_id }} failed at {{ ti.task_id }}' });
    expect(() => dag({ dagId: 'd', onFailure: n }, () => void task('a', () => 1))).toThrow(
      `DAG 'd', field 'onFailure': template "{{ dag_id }} failed at {{ ti.task_id }}": '{{ ti.task_id }}' has no value in a DAG's callback (it is known in: task)`,
    );
    expect(() => dag({ dagId: 'd', deadline: { reference: 'dagrun_queued_at', interval: '1h', callback: [() => undefined, n] } }, () => void task('a', () => 1))).toThrow(
      `DAG 'd', field 'deadline.callback[1]'`,
    );
    // On a task it is fine.
    expect(() => dag({ dagId: 'd' }, () => void task('a', () => 1, { onFailure: n }))).not.toThrow();
  });
});

describe('notifier options', () => {
  it('name what is wrong', () => {
    expect(() => snsNotifier({ topicArn: 'my-topic' })).toThrow(`field 'snsNotifier.topicArn': topicArn "my-topic" is not an SNS topic ARN`);
    expect(() => snsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', mesage: 'x' } as never)).toThrow(`unknown snsNotifier option 'mesage' (known: topicArn, subject, message)`);
    expect(() => webhookNotifier({ url: 'ftp://x' })).toThrow(`url "ftp://x" is not an http(s) URL`);
    expect(() => sesNotifier({ from: 'ops', to: 'a@b.io' })).toThrow(`from "ops" is not an email address`);
    expect(() => sesNotifier({ from: 'ops@b.io', to: ['a@b.io', 'x'] })).toThrow(`field 'sesNotifier.to[1]': "x" is not an email address`);
    expect(() => dag({ dagId: 'd' }, () => void task('a', () => 1, { onSuccess: 'nope' as never }))).toThrow(
      `DAG 'd', task 'a', field 'onSuccess': expected a function or a notifier (snsNotifier, webhookNotifier, sesNotifier), got string`,
    );
  });

  it('are listed in the spec for IAM (webhooks are not), and a DAG with none keeps its spec shape', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:alerts';
    const d = dag(
      { dagId: 'd', onFailure: [snsNotifier({ topicArn: topic }), sesNotifier({ from: 'ops@example.com', to: 'me@example.com' })] },
      () => void task('a', () => 1, { onFailure: [snsNotifier({ topicArn: topic }), webhookNotifier({ url: 'https://x.example' })] }),
    );
    expect(d.spec.notifierTargets).toEqual([
      { kind: 'sns', topicArn: topic },
      { kind: 'ses', from: 'ops@example.com' },
    ]);
    const plain = dag({ dagId: 'd' }, () => void task('a', () => 1));
    expect('notifierTargets' in plain.spec).toBe(false);
    expect('deadlines' in plain.spec).toBe(false);
  });
});

describe('notifiers in defaultArgs', () => {
  it("apply to every task of the DAG or the group, and their targets are the DAG's", () => {
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:t';
    const n = snsNotifier({ topicArn });
    const d = dag({ dagId: 'x', defaultArgs: { onFailure: n } }, () => {
      task('a', () => 1);
      taskGroup('g', { defaultArgs: { onRetry: [n, () => undefined] } }, () => void task('b', () => 1));
    });
    expect(d.spec.notifierTargets).toEqual([{ kind: 'sns', topicArn }]);
    expect(typeof d.runtime.get('a')!.onFailure).toBe('function');
    expect(typeof d.runtime.get('g.b')!.onRetry).toBe('function');
    expect(d.runtime.get('a')!.onRetry).toBeNull();
  });
});

describe('notifiers send', () => {
  const api = new NotifyApi();
  const hooks: { body: any; headers: IncomingMessage['headers'] }[] = [];
  let hookStatus = 200;
  let hookServer: Server;
  let hookUrl = '';
  const saved = { ...process.env };

  beforeAll(async () => {
    const endpoint = await api.listen();
    process.env.AWS_ENDPOINT_URL_SNS = endpoint;
    process.env.AWS_ENDPOINT_URL_SESV2 = endpoint;
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    hookServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
        res.writeHead(hookStatus, { 'content-type': 'text/plain' }).end(hookStatus === 200 ? 'ok' : 'invalid_token');
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/services/T/B/X`;
  });
  afterAll(async () => {
    process.env = saved;
    await api.close();
    await new Promise<void>((r) => hookServer.close(() => r()));
  });

  it('snsNotifier publishes to the topic with the rendered subject and message', async () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:alerts';
    await snsNotifier({ topicArn, subject: '[{{ dag_id }}] {{ event }}', message: '{{ dag_id }} run {{ run_id }} failed at {{ ti.task_id }}: {{ exception }}' }).notify(CTX);
    expect(api.published.at(-1)).toEqual({ topicArn, subject: '[nightly] failure', message: 'nightly run manual__1 failed at calibrate: Error: boom' });
    await snsNotifier({ topicArn }).notify({ ...CTX, ti: { taskId: 'img', mapIndex: 4, tryNumber: 1 } });
    expect(api.published.at(-1)).toEqual({ topicArn, subject: null, message: 'airless: DAG nightly run manual__1 task img[4] (try 1) failed: Error: boom' });
    api.failNext('Publish', 403, 'AuthorizationError', 'not authorized to publish');
    await expect(snsNotifier({ topicArn }).notify(CTX)).rejects.toThrow('not authorized to publish');
  });

  it('sesNotifier sends an email with SESv2 SendEmail', async () => {
    await sesNotifier({ from: 'ops@example.com', to: ['a@example.com', 'b@example.com'], subject: '{{ dag_id }}: {{ state }}', body: 'Run {{ run_id }} of {{ logical_date }}' }).notify(CTX);
    expect(api.emails.at(-1)).toEqual({ from: 'ops@example.com', to: ['a@example.com', 'b@example.com'], subject: 'nightly: failed', body: 'Run manual__1 of 2026-01-01T00:00:00.000Z' });
    api.failNext('SendEmail', 400, 'MessageRejected', 'Email address is not verified');
    await expect(sesNotifier({ from: 'ops@example.com', to: 'a@example.com' }).notify(CTX)).rejects.toThrow('Email address is not verified');
  });

  it("webhookNotifier POSTs Slack's { text, blocks } as JSON, the URL from a function if given", async () => {
    await webhookNotifier({
      url: async () => hookUrl,
      text: '{{ dag_id }} failed',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{ ti.task_id }}*: {{ exception }}' } }],
    }).notify(CTX);
    expect(hooks.at(-1)!.body).toEqual({ text: 'nightly failed', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*calibrate*: Error: boom' } }] });
    expect(hooks.at(-1)!.headers['content-type']).toBe('application/json');
    hookStatus = 403;
    await expect(webhookNotifier({ url: hookUrl }).notify(CTX)).rejects.toThrow(/^webhook 127\.0\.0\.1:\d+ answered 403 Forbidden: invalid_token$/);
    hookStatus = 200;
  });

  it('in a run: every item of a callback list runs; a notifier that fails is reported and fails nothing', async () => {
    const calls: string[] = [];
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:runs';
    api.failNext('Publish', 403, 'AuthorizationError', 'not authorized to publish to runs');
    const d = dag(
      {
        dagId: 'notify_flow',
        onSuccess: [snsNotifier({ topicArn, message: 'run {{ run_id }} {{ state }}, band {{ conf.band }}' }), () => void calls.push('dag done')],
      },
      () => {
        task('a', () => 1, {
          onSuccess: [snsNotifier({ topicArn, message: 'task {{ ti.task_id }} of {{ dag_id }} ok on {{ logical_date }}' }), webhookNotifier({ url: hookUrl, text: '{{ ti.task_id }} ok' }), () => void calls.push('a ok')],
        });
      },
    );
    const r = fakeRunner([d]);
    const errors: string[] = [];
    r.on((e: RunnerEvent) => {
      if (e.type === 'error') errors.push(`${e.where}: ${(e.error as Error).message}`);
    });
    const before = api.published.length;
    const hooksBefore = hooks.length;
    const report = await r.run({ dagId: 'notify_flow', runId: 'r1', logicalDate: '2026-02-01T00:00:00.000Z', conf: {} });
    expect(report.state).toBe('success');
    // The task's SNS publish was refused: reported, the webhook and the function still ran.
    expect(errors).toEqual(["task 'a' onSuccess callback: sns notifier failed: AuthorizationErrorException: not authorized to publish to runs"]);
    expect(hooks.slice(hooksBefore).map((h) => h.body)).toEqual([{ text: 'a ok' }]);
    expect(calls).toEqual(['a ok', 'dag done']);
    expect(api.published.slice(before).map((m) => m.message)).toEqual(['run r1 success, band ']);
  });
});
