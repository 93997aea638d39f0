/**
 * hello: a first DAG. It greets a list of names, one task instance per name, and sums up.
 *
 *   list_names -> greet (mapped: one instance per name) -> summarize
 *
 * - `params` are JSON Schemas with defaults; a run's conf overrides them and is checked against them.
 *   `ctx.params` is typed from the schemas: `names` is a string[], `flaky` a boolean.
 * - What a task returns is its result (XCom): calling a task's handle with an upstream's handle passes
 *   that result on.
 * - `.expand(list)` maps a task over a list: one task instance per item, each retried on its own.
 *   The task downstream of it receives every instance's result, in list order.
 * - `defaultArgs` apply to every task: here 2 retries, 10 seconds apart.
 *
 * Try it:
 *   npx airless dags test hello
 *   npx airless dags test hello --conf '{"names": ["Ada", "Grace"], "flaky": true}'
 */
import { dag } from 'airless';

export default dag(
  {
    dagId: 'hello',
    description: 'Greet a list of names, one task instance per name, and sum up',
    params: {
      names: { type: 'array', items: { type: 'string' }, default: ['Ada', 'Grace', 'Katherine'], description: 'Who to greet.' },
      greeting: { type: 'string', default: 'Hello', description: 'The word to greet them with.' },
      flaky: { type: 'boolean', default: false, description: "Fail each greeting's first try, to watch the retries." },
    },
    defaultArgs: { retries: 2, retryDelay: '10s' },
    tags: ['example'],
  },
  ({ task }) => {
    const names = task('list_names', ({ params }) => params.names);

    const greetings = task('greet', (ctx, name: string) => {
      if (ctx.params.flaky && ctx.tryNumber === 1) throw new Error(`could not greet ${name} this time`);
      ctx.log.info(`greeting ${name} (try ${ctx.tryNumber} of ${ctx.maxTries})`);
      return `${ctx.params.greeting}, ${name}!`;
    }).expand(names);

    task('summarize', (ctx, all: string[]) => {
      ctx.log.info(all.join(' '));
      return { count: all.length, greetings: all };
    })(greetings);
  },
);
