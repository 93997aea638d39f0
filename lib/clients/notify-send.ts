import { SendEmailCommand, SESv2Client, type SESv2ClientConfig } from '@aws-sdk/client-sesv2';
import { PublishCommand, SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import type { Logger } from '@smithy/types';
import { baseClientConfig, type Env } from './aws-clients.ts';

// What the notifiers (lib/authoring/notifiers.ts) send through AWS. They import this module when one first
// sends, so a process whose DAGs notify nothing never loads these clients. Like every airless client they
// honour `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL_SESV2`, which the SDK reads itself.

/**
 * The notifier clients log nothing themselves: a failed send is the callback's error, reported once by the
 * scheduler (`NotifierError: sns notifier failed: ...`).
 */
const NOTIFIER_LOGGER = { debug: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

/** An SNS client (endpoint from `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL` unless given). */
export function snsClient(config: SNSClientConfig = {}, env: Env = process.env): SNSClient {
  return new SNSClient({ ...baseClientConfig(env), logger: NOTIFIER_LOGGER, ...config });
}

/** An SES (v2) client (endpoint from `AWS_ENDPOINT_URL_SESV2` / `AWS_ENDPOINT_URL` unless given). */
export function sesV2Client(config: SESv2ClientConfig = {}, env: Env = process.env): SESv2Client {
  return new SESv2Client({ ...baseClientConfig(env), logger: NOTIFIER_LOGGER, ...config });
}

/** sns:Publish one message to a topic (in the topic's region). */
export async function publishToTopic(m: { topicArn: string; region: string; message: string; subject: string | null }): Promise<void> {
  const client = snsClient({ region: m.region });
  try {
    await client.send(new PublishCommand({ TopicArn: m.topicArn, Message: m.message, ...(m.subject ? { Subject: m.subject } : {}) }));
  } finally {
    client.destroy();
  }
}

/** ses:SendEmail one plain-text email (SESv2). */
export async function sendEmail(m: { from: string; to: readonly string[]; subject: string; body: string }): Promise<void> {
  const client = sesV2Client();
  try {
    await client.send(
      new SendEmailCommand({
        FromEmailAddress: m.from,
        Destination: { ToAddresses: [...m.to] },
        Content: { Simple: { Subject: { Data: m.subject, Charset: 'UTF-8' }, Body: { Text: { Data: m.body, Charset: 'UTF-8' } } } },
      }),
    );
  } finally {
    client.destroy();
  }
}
