import { GetObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../clients/aws-clients.ts';

/**
 * Where values too large for a DynamoDB item go (XCom values, item results, pipeline-context data).
 * The store keeps the returned pointer in the item and follows it when reading, so task code never sees
 * the difference.
 */
export interface LargeValueStore {
  /** Store `body` (JSON text) under `key` (relative, e.g. `<runId>/xcom/...`); returns the pointer to keep. */
  put(key: string, body: string): Promise<string>;
  /** The text stored at a pointer returned by `put`. */
  get(pointer: string): Promise<string>;
  /** Mark values whose retention has started (their run ended): a lifecycle rule deletes them later. */
  expire?(pointers: readonly string[]): Promise<void>;
}

/** The tag `S3LargeValueStore.expire` puts on objects; a bucket lifecycle rule filters on it. */
export const EXPIRED_TAG = { Key: 'airless-expired', Value: 'true' } as const;

export interface S3LargeValueStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket. Default `airless`. */
  prefix?: string;
  /** Default: `s3Client()` from `lib/clients/aws-clients.ts` (honours `AWS_ENDPOINT_URL_S3`). */
  client?: S3Client;
}

/** Parse `s3://bucket/key`. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new Error(`not an S3 pointer: '${uri}'`);
  return { bucket: m[1]!, key: m[2]! };
}

/**
 * Large values as S3 objects `s3://<bucket>/<prefix>/<runId>/...` (JSON). `expire` tags them with
 * `EXPIRED_TAG`; the bucket's lifecycle rule on that tag deletes them after the XCom retention.
 */
export class S3LargeValueStore implements LargeValueStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;

  constructor(options: S3LargeValueStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? 'airless').replace(/^\/+|\/+$/g, '');
    this.client = options.client ?? s3Client();
  }

  async put(key: string, body: string): Promise<string> {
    const full = this.prefix ? `${this.prefix}/${key}` : key;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: full, Body: body, ContentType: 'application/json' }));
    return `s3://${this.bucket}/${full}`;
  }

  async get(pointer: string): Promise<string> {
    const { bucket, key } = parseS3Uri(pointer);
    const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!res.Body) throw new Error(`S3 object ${pointer} has no body`);
    return res.Body.transformToString('utf-8');
  }

  async expire(pointers: readonly string[]): Promise<void> {
    const queue = [...new Set(pointers)];
    const worker = async () => {
      for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
        const { bucket, key } = parseS3Uri(p);
        await this.client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [{ ...EXPIRED_TAG }] } }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  }
}
