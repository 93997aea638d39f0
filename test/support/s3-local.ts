import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** s3rver accepts only this access key (and checks signatures with it). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Local {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /** A client for this server (path-style addressing). */
  readonly client: S3Client;
  /** Stop the server, destroy `client` and remove its files. */
  stop(): Promise<void>;
}

/**
 * Start s3rver (an S3-compatible server in this process, objects in a temporary folder) on a free port
 * of 127.0.0.1, with `buckets` created.
 */
export async function startS3Local(buckets: readonly string[] = []): Promise<S3Local> {
  const directory = await mkdtemp(join(tmpdir(), 'airless-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    resetOnClose: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
