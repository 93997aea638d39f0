import { NonRetriableError } from '../../errors.ts';
import type { BranchTaskSpec } from '../../model/spec.ts';
import { callCode, type KindRunner } from './kind-runner.ts';

/** `branch()`: the code returns the direct downstream tasks to follow (an id, a list, or null for none). */
export const branchRunner: KindRunner<BranchTaskSpec> = {
  runsCode: true,
  async runTry({ spec }, tools) {
    const chosen = await callCode(tools);
    const follow = chosen === null || chosen === undefined ? [] : Array.isArray(chosen) ? chosen : [chosen];
    for (const id of follow) {
      if (typeof id !== 'string' || !spec.downstream.includes(id)) {
        throw new NonRetriableError(`branch returned ${JSON.stringify(id)}, which is not a direct downstream task (downstream: ${spec.downstream.join(', ') || 'none'})`);
      }
    }
    tools.write('info', `following: ${follow.join(', ') || '(none)'}`);
    await tools.storeResult(follow);
    return { kind: 'success', follow: follow as string[] };
  },
};
