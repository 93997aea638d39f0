// The human-in-the-loop part of the StateStore contract (test/store-contract.ts runs it on every store).
import { describe, expect, it } from 'vitest';
import type { HitlRecord, HitlResponse } from '../lib/store/hitl-records.ts';
import { pipelineScopeOf, type DagRunRecord, type TiKey } from '../lib/store/records.ts';
import type { StateStore } from '../lib/store/state-store.ts';

let seq = 0;
const uid = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function run(dagId: string, runId: string): DagRunRecord {
  return {
    dagId,
    runId,
    state: 'running',
    runType: 'manual',
    conf: {},
    params: {},
    logicalDate: at(0),
    queuedAt: at(0),
    startDate: at(0),
    endDate: null,
    dagVersion: 'v1',
    pending: 3,
    parent: null,
    pipelineScope: pipelineScopeOf({ dagId, runId }),
    note: null,
  };
}

function request(ti: TiKey, tryNumber: number, createdAt: string, over: Partial<HitlRecord> = {}): HitlRecord {
  return {
    ...ti,
    tryNumber,
    subject: 'Ship it? ü #1',
    body: 'line one\nline two',
    options: ['Approve', 'Reject'],
    multiple: false,
    defaults: ['Approve'],
    params: { note: { type: 'string', default: 'none' } },
    assignedTo: ['ana', 'arn:aws:iam::123456789012:user/bo'],
    createdAt,
    timeoutAt: at(60),
    taskToken: null,
    response: null,
    ...over,
  };
}

const answer = (by: string | null, minutes: number, options = ['Approve']): HitlResponse => ({ chosenOptions: options, paramsInput: { note: 'ok' }, respondedBy: by, respondedAt: at(minutes), timedOut: by === null });

export function describeHitlContract(makeStore: () => Promise<StateStore> | StateStore): void {
  describe('human-in-the-loop requests', () => {
    it('put is create-if-absent per try; get returns the latest try\'s, every field kept', async () => {
      const s = await makeStore();
      const dagId = uid('hitl_dag');
      const runId = `${uid('run')}#/ü`;
      await s.createRun(run(dagId, runId));
      const ti = { dagId, runId, taskId: 'approve', mapIndex: -1 };
      expect(await s.getHitlRequest(ti)).toBeUndefined();
      const first = request(ti, 1, at(1));
      expect(await s.putHitlRequest(first)).toBe(true);
      expect(await s.putHitlRequest({ ...first, subject: 'changed', createdAt: at(2) })).toBe(false);
      expect(await s.getHitlRequest(ti)).toStrictEqual(first);
      const bare = request(ti, 2, at(3), { body: null, defaults: null, params: null, assignedTo: [], timeoutAt: null, multiple: true, options: ['a', 'b', 'c'] });
      expect(await s.putHitlRequest(bare)).toBe(true);
      expect(await s.getHitlRequest(ti)).toStrictEqual(bare);
      // Another map index of the same task is another request.
      expect(await s.getHitlRequest({ ...ti, mapIndex: 0 })).toBeUndefined();
    });

    it('respond stores one answer per request (the second is refused, the first kept); a token only before it', async () => {
      const s = await makeStore();
      const dagId = uid('hitl_dag');
      const runId = uid('run');
      await s.createRun(run(dagId, runId));
      const ti = { dagId, runId, taskId: 'approve', mapIndex: 3 };
      expect(await s.respondHitl(ti, 1, answer('ana', 5))).toStrictEqual({ applied: false, record: undefined });
      expect(await s.setHitlTaskToken(ti, 1, 'tok')).toBe(false);
      await s.putHitlRequest(request(ti, 1, at(1)));
      expect(await s.setHitlTaskToken(ti, 1, 'tok-1')).toBe(true);
      expect(await s.setHitlTaskToken(ti, 2, 'tok-2')).toBe(false);
      const first = await s.respondHitl(ti, 1, answer('ana', 5));
      expect(first).toStrictEqual({ applied: true, record: request(ti, 1, at(1), { taskToken: 'tok-1', response: answer('ana', 5) }) });
      const second = await s.respondHitl(ti, 1, answer('arn:aws:iam::123456789012:user/bo', 6, ['Reject']));
      expect(second).toStrictEqual({ applied: false, record: request(ti, 1, at(1), { taskToken: 'tok-1', response: answer('ana', 5) }) });
      expect(await s.setHitlTaskToken(ti, 1, 'tok-late')).toBe(false);
      expect((await s.getHitlRequest(ti))?.response).toStrictEqual(answer('ana', 5));
    });

    it('lists newest first, pending or answered, by DAG and by run, paged, with the total', async () => {
      const s = await makeStore();
      const dagId = uid('hitl_dag');
      const other = uid('hitl_dag');
      const [r1, r2] = [uid('run'), uid('run')];
      await s.createRun(run(dagId, r1));
      await s.createRun(run(dagId, r2));
      await s.createRun(run(other, r1));
      const k = (runId: string, taskId: string, d = dagId) => ({ dagId: d, runId, taskId, mapIndex: -1 });
      await s.putHitlRequest(request(k(r1, 'a'), 1, at(1)));
      await s.putHitlRequest(request(k(r1, 'b'), 1, at(2)));
      await s.putHitlRequest(request(k(r2, 'a'), 1, at(3)));
      await s.putHitlRequest(request(k(r1, 'a', other), 1, at(4)));
      await s.respondHitl(k(r1, 'b'), 1, answer('ana', 5));
      const ids = (l: { records: HitlRecord[] }) => l.records.map((r) => `${r.runId === r1 ? 'r1' : 'r2'}/${r.taskId}`);
      expect(ids(await s.listHitlRequests({ dagId, limit: 10 }))).toStrictEqual(['r2/a', 'r1/b', 'r1/a']);
      expect(await s.listHitlRequests({ dagId, limit: 10 }).then((l) => l.total)).toBe(3);
      expect(ids(await s.listHitlRequests({ dagId, pending: true, limit: 10 }))).toStrictEqual(['r2/a', 'r1/a']);
      expect(ids(await s.listHitlRequests({ dagId, pending: false, limit: 10 }))).toStrictEqual(['r1/b']);
      expect(ids(await s.listHitlRequests({ dagId, runId: r1, limit: 10 }))).toStrictEqual(['r1/b', 'r1/a']);
      expect(ids(await s.listHitlRequests({ dagId, runId: r1, pending: true, limit: 10 }))).toStrictEqual(['r1/a']);
      const page = await s.listHitlRequests({ dagId, limit: 1, offset: 1 });
      expect([ids(page), page.total]).toStrictEqual([['r1/b'], 3]);
      const pagePending = await s.listHitlRequests({ dagId, pending: true, limit: 1, offset: 1 });
      expect([ids(pagePending), pagePending.total]).toStrictEqual([['r1/a'], 2]);
      // Across DAGs (the store may hold other tests' requests): ours are there, newest first.
      const everyPending = (await s.listHitlRequests({ pending: true, limit: 1000 })).records.filter((r) => r.dagId === dagId || r.dagId === other);
      expect(everyPending.map((r) => `${r.dagId === other ? 'other' : 'dag'}/${r.taskId}`)).toStrictEqual(['other/a', 'dag/a', 'dag/a']);
      const every = (await s.listHitlRequests({ limit: 1000 })).records.filter((r) => r.dagId === dagId || r.dagId === other);
      expect(every).toHaveLength(4);
      const answered = (await s.listHitlRequests({ pending: false, limit: 1000 })).records.filter((r) => r.dagId === dagId || r.dagId === other);
      expect(answered.map((r) => r.response?.respondedBy)).toStrictEqual(['ana']);
    });

    it('deleting a run deletes its requests, from every listing', async () => {
      const s = await makeStore();
      const dagId = uid('hitl_dag');
      const runId = uid('run');
      await s.createRun(run(dagId, runId));
      const ti = { dagId, runId, taskId: 'a', mapIndex: -1 };
      await s.putHitlRequest(request(ti, 1, at(1)));
      await s.putHitlRequest(request({ ...ti, taskId: 'b' }, 1, at(2)));
      await s.respondHitl({ ...ti, taskId: 'b' }, 1, answer('ana', 3));
      await s.deleteRun({ dagId, runId });
      expect(await s.getHitlRequest(ti)).toBeUndefined();
      expect(await s.listHitlRequests({ dagId, limit: 10 })).toStrictEqual({ records: [], total: 0 });
      expect((await s.listHitlRequests({ pending: true, limit: 1000 })).records.filter((r) => r.dagId === dagId)).toStrictEqual([]);
      expect((await s.listHitlRequests({ limit: 1000 })).records.filter((r) => r.dagId === dagId)).toStrictEqual([]);
    });
  });
}
