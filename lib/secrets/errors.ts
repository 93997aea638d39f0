/** A variable a task asked for (with no default) is in none of the places airless looks. */
export class VariableNotFoundError extends Error {
  override readonly name = 'VariableNotFoundError';
  constructor(
    readonly key: string,
    /** Where it was looked for, in order. */
    readonly lookedIn: readonly string[],
  ) {
    super(`variable '${key}' not found (looked in ${lookedIn.join(', then ')})`);
  }
}

/** A connection a task asked for is in none of the places airless looks. */
export class ConnectionNotFoundError extends Error {
  override readonly name = 'ConnectionNotFoundError';
  constructor(
    readonly connectionId: string,
    /** Where it was looked for, in order. */
    readonly lookedIn: readonly string[],
  ) {
    super(`connection '${connectionId}' not found (looked in ${lookedIn.join(', then ')})`);
  }
}

/** A connection's URI or JSON, or a variable's JSON, that cannot be read: names what and where. */
export class InvalidSecretError extends Error {
  override readonly name = 'InvalidSecretError';
}
