import { userInfo } from 'node:os';

/**
 * Who the standalone's API token stands for (who answers human-in-the-loop requests): `AIRLESS_API_USER`
 * if set, else the operating system's user running the server.
 */
export function apiUser(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.AIRLESS_API_USER?.trim();
  if (given) return given;
  try {
    return userInfo().username;
  } catch {
    return 'airless';
  }
}
