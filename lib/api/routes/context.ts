import type { FastifyInstance } from 'fastify';
import type { ApiBackend } from '../backend.ts';

/** What every route module registers on, and acts through. */
export interface RouteContext {
  app: FastifyInstance;
  backend: ApiBackend;
}

export interface Page {
  limit: number;
  offset: number;
}

/** A page of a list, and the list's length. */
export function paginate<T>(items: readonly T[], page: Page): { items: T[]; total: number } {
  return { items: items.slice(page.offset, page.offset + page.limit), total: items.length };
}
