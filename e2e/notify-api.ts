/**
 * A local endpoint that speaks what the notifiers send, as the real SDK clients send it: SNS's Query API
 * (`POST /` form-encoded, `Action=Publish`, answered in XML) and SESv2's REST JSON API
 * (`POST /v2/email/outbound-emails`). Point `AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL_SESV2` (or a
 * client's `endpoint`) at it; it checks no signature. Messages are kept in order; `failNext` makes the
 * next request of an operation answer an error as AWS would (to test that a notifier's failure is reported).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackEndpoint } from './loopback-server.ts';

/** An SNS Publish as received. */
export interface PublishedMessage {
  topicArn: string;
  message: string;
  subject: string | null;
}

/** A SESv2 SendEmail as received. */
export interface SentEmail {
  from: string;
  to: string[];
  subject: string;
  body: string;
}

const SNS_NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export class NotifyApi extends LoopbackEndpoint {
  readonly published: PublishedMessage[] = [];
  readonly emails: SentEmail[] = [];
  /** Topics that exist (Publish to another answers NotFound); null: every topic exists. */
  topics: Set<string> | null = null;
  private readonly failures = new Map<string, { status: number; code: string; message: string }>();



  /** The next `operation` ('Publish' or 'SendEmail') answers this error. */
  failNext(operation: 'Publish' | 'SendEmail', status: number, code: string, message: string): void {
    this.failures.set(operation, { status, code, message });
  }

  protected override async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      if (req.method === 'POST' && req.url?.startsWith('/v2/email/outbound-emails')) return this.sendEmail(JSON.parse(text), res);
      if (req.method === 'POST' && (req.url === '/' || req.url?.startsWith('/?'))) return this.query(new URLSearchParams(text), res);
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no route ${req.method} ${req.url}` }));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(e) }));
    }
  }

  private query(form: URLSearchParams, res: ServerResponse): void {
    const action = form.get('Action');
    const requestId = randomUUID();
    const error = (status: number, code: string, message: string): void => {
      res
        .writeHead(status, { 'content-type': 'text/xml' })
        .end(`<ErrorResponse xmlns="${SNS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    };
    if (action !== 'Publish') return error(400, 'InvalidAction', `action ${action} is not supported here`);
    const failure = this.failures.get('Publish');
    if (failure) {
      this.failures.delete('Publish');
      return error(failure.status, failure.code, failure.message);
    }
    const topicArn = form.get('TopicArn') ?? '';
    const message = form.get('Message');
    if (message === null || message === '') return error(400, 'InvalidParameter', 'Invalid parameter: Empty message');
    if (this.topics && !this.topics.has(topicArn)) return error(404, 'NotFound', 'Topic does not exist');
    this.published.push({ topicArn, message, subject: form.get('Subject') });
    res
      .writeHead(200, { 'content-type': 'text/xml' })
      .end(`<PublishResponse xmlns="${SNS_NS}"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`);
  }

  private sendEmail(body: any, res: ServerResponse): void {
    const failure = this.failures.get('SendEmail');
    if (failure) {
      this.failures.delete('SendEmail');
      res.writeHead(failure.status, { 'content-type': 'application/json', 'x-amzn-errortype': failure.code }).end(JSON.stringify({ message: failure.message }));
      return;
    }
    const simple = body?.Content?.Simple;
    if (!body?.FromEmailAddress || !simple) {
      res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'BadRequestException' }).end(JSON.stringify({ message: 'FromEmailAddress and Content.Simple are required here' }));
      return;
    }
    this.emails.push({ from: body.FromEmailAddress, to: body.Destination?.ToAddresses ?? [], subject: simple.Subject?.Data ?? '', body: simple.Body?.Text?.Data ?? '' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ MessageId: randomUUID() }));
  }
}
