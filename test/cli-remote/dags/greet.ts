import { dag, task } from 'airless';

/** Succeeds; its params are checked at trigger time. */
export default dag(
  {
    dagId: 'remote_greet',
    description: 'says hello',
    tags: ['fixture', 'remote'],
    params: {
      name: { type: 'string', default: 'world' },
      count: { type: 'integer', minimum: 1, default: 2 },
    },
  },
  () => {
    const hello = task('hello', ({ params }) => `hello ${params.name}`);
    task('repeat', (_ctx, text: string) => Array.from({ length: 2 }, () => text))(hello);
  },
);
