import { AirlessError, type ErrorLocation } from '../errors.ts';

/**
 * A request the API refuses with a given status (404 unknown run or task, 409 conflict...): the error
 * handler answers `{ detail, field }` with it. `field` is the request path at fault (`params.task_id`).
 */
export class HttpError extends AirlessError {
  override name = 'HttpError';
  constructor(
    readonly statusCode: 400 | 401 | 403 | 404 | 409,
    detail: string,
    readonly field: string | null = null,
    location: ErrorLocation = {},
  ) {
    super(detail, location);
  }
}
