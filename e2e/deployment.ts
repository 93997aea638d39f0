/**
 * What a deploy puts in place, for the local cloud: the functions' DAG modules (each with its file's
 * bundle hash, as the generated `airless-dags` module lists them) and the DAG files' version bundles
 * (built by the same `buildVersionBundles` the CDK app calls), which the harness uploads to its bucket as
 * the stack's BucketDeployment does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildVersionBundles, type BuiltBundles } from '../cdk/version-bundles.ts';
import { BUNDLE_ENTRY } from '../lib/aws/bundle-bucket.ts';
import { installDagLibrary } from '../lib/aws/dag-library-global.ts';
import type { DagModule } from '../lib/aws/services.ts';

export interface Deployment {
  /** The functions' DAG modules. */
  modules: readonly DagModule[];
  /** The version bundles to upload (folders of `<hash>/` folders). */
  bundles: readonly BuiltBundles[];
}

/**
 * A deployment whose function code is the DAG folder's version bundles themselves (each `bundle.mjs`
 * imported as the function's copy of that file, on this process's library): for a DAGs folder outside the
 * repository, whose files cannot resolve 'airless' from where they are.
 */
export async function deploymentOfFolder(folder: string, files: readonly string[]): Promise<Deployment> {
  const built = await buildVersionBundles(folder, files);
  installDagLibrary();
  const modules: DagModule[] = [];
  for (const b of built.bundles) {
    const exports = (await import(pathToFileURL(path.join(built.dir, b.bundle, BUNDLE_ENTRY)).href)) as Record<string, unknown>;
    modules.push({ file: b.file, bundle: b.bundle, exports });
  }
  return { modules, bundles: [built] };
}

function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, p) : [p];
  });
}

/** Upload a deployment's bundles under `prefix` (ending in '/') of `bucket`; returns how many objects were put. */
export async function uploadBundles(client: S3Client, bucket: string, prefix: string, deployment: Deployment): Promise<number> {
  let n = 0;
  for (const built of deployment.bundles) {
    const keys = walk(built.dir);
    await Promise.all(
      keys.map(async (k) => {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${k}`, Body: readFileSync(path.join(built.dir, ...k.split('/'))) }));
        n++;
      }),
    );
  }
  return n;
}
