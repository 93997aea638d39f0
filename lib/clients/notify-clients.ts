import type { SESv2Client, SESv2ClientConfig } from '@aws-sdk/client-sesv2';
import type { SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import { baseClientConfig, type Env } from './aws-clients.ts';

// The clients of the notifiers (lib/authoring/notifiers.ts), loaded when a notifier first sends: a process
// whose DAGs notify nothing never loads them. Like every airless client they honour `AWS_ENDPOINT_URL`
// and `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL_SESV2`, which the SDK reads itself.

/** An SNS client (endpoint from `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL` unless given). */
export async function snsClient(config: SNSClientConfig = {}, env: Env = process.env): Promise<SNSClient> {
  const { SNSClient } = await import('@aws-sdk/client-sns');
  return new SNSClient({ ...baseClientConfig(env), ...config });
}

/** An SES (v2) client (endpoint from `AWS_ENDPOINT_URL_SESV2` / `AWS_ENDPOINT_URL` unless given). */
export async function sesV2Client(config: SESv2ClientConfig = {}, env: Env = process.env): Promise<SESv2Client> {
  const { SESv2Client } = await import('@aws-sdk/client-sesv2');
  return new SESv2Client({ ...baseClientConfig(env), ...config });
}
