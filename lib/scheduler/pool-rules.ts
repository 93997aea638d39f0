// What a pool may be (name, slots), the semaphore its slots count on, and the message of a task whose
// pool does not exist (naming the ways to create one that exist).

/** A pool's slots meaning "no limit" (Airflow's -1). */
export const UNLIMITED_POOL_SLOTS = -1;
/** The longest pool name (Airflow's pool column). */
export const POOL_NAME_MAX_LENGTH = 256;
/** What a pool name may hold. */
export const POOL_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** The semaphore a pool's slots count on. */
export function poolSemaphore(name: string): string {
  return `pool:${name}`;
}

/** The limit a pool's semaphore enforces (an unlimited pool has no practical limit). */
export function poolLimit(slots: number): number {
  return slots === UNLIMITED_POOL_SLOTS ? Number.MAX_SAFE_INTEGER : slots;
}

/** What is wrong with a pool name, or null. */
export function poolNameProblem(name: string): string | null {
  if (name.length === 0) return 'a pool name must not be empty';
  if (name.length > POOL_NAME_MAX_LENGTH) return `pool name is ${name.length} characters long; at most ${POOL_NAME_MAX_LENGTH}`;
  if (!POOL_NAME_PATTERN.test(name)) return `pool name '${name}' may hold only letters, digits, '_', '.' and '-'`;
  return null;
}

/** What is wrong with a pool's slots, or null: an integer >= 0, or -1 for unlimited. */
export function poolSlotsProblem(slots: unknown): string | null {
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < UNLIMITED_POOL_SLOTS) {
    return `slots must be an integer >= 0, or -1 for unlimited; got ${typeof slots === 'number' ? slots : JSON.stringify(slots)}`;
  }
  return null;
}

/** Why a task cannot run when its pool `name` does not exist, and how to create it in each mode. */
export function missingPoolMessage(name: string): string {
  return (
    `pool '${name}' does not exist: create it with \`airless pools set ${name} <slots>\` (the standalone, or --stack NAME for a deployed stack), ` +
    `the API's POST /api/v2/pools, the runner's pools option (\`dags test\` and LocalRunner: { pools: { ${name}: <slots> } }), ` +
    `or the Airless construct's pools prop (deployed)`
  );
}
