// EventBridge event patterns (lib/core/event-pattern.ts): each operator matches as EventBridge's
// documentation says, and a pattern using something the matcher does not implement is refused naming the field.
import { describe, expect, it } from 'vitest';
import { checkEventPattern, matchesEventPattern, type EventPattern } from '../lib/core/event-pattern.ts';

const S3_EVENT = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '123456789012',
  time: '2026-12-07T10:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:s3:::raw-data'],
  detail: { version: '0', bucket: { name: 'raw-data' }, object: { key: 'incoming/2026/scan.ms', size: 5, etag: 'e', sequencer: '0055AED6DCD90281E5' }, reason: 'PutObject' },
};

const matches = (p: EventPattern, e: unknown = S3_EVENT) => {
  checkEventPattern(p);
  return matchesEventPattern(p, e);
};

describe('event patterns', () => {
  it('matches exact values and nested objects, every field', () => {
    expect(matches({ source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: ['raw-data'] } } })).toBe(true);
    expect(matches({ source: ['aws.s3'], detail: { bucket: { name: ['other'] } } })).toBe(false);
    expect(matches({ source: ['aws.ec2', 'aws.s3'] })).toBe(true);
    expect(matches({ detail: { object: { size: [5] } } })).toBe(true);
    expect(matches({ detail: { object: { size: ['5'] } } })).toBe(false);
    expect(matches({ detail: { missing: ['x'] } })).toBe(false);
  });

  it('matches prefix and suffix (also ignoring case), equals-ignore-case and wildcard', () => {
    expect(matches({ detail: { object: { key: [{ prefix: 'incoming/' }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ prefix: 'Incoming/' }] } } })).toBe(false);
    expect(matches({ detail: { object: { key: [{ prefix: { 'equals-ignore-case': 'INCOMING/' } }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ suffix: '.ms' }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ suffix: { 'equals-ignore-case': '.MS' } }] } } })).toBe(true);
    expect(matches({ 'detail-type': [{ 'equals-ignore-case': 'object created' }] })).toBe(true);
    expect(matches({ detail: { object: { key: [{ wildcard: 'incoming/*/scan.*' }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ wildcard: 'incoming/*.txt' }] } } })).toBe(false);
  });

  it('matches anything-but, numeric ranges and exists', () => {
    expect(matches({ detail: { reason: [{ 'anything-but': 'CopyObject' }] } })).toBe(true);
    expect(matches({ detail: { reason: [{ 'anything-but': ['PutObject', 'CopyObject'] }] } })).toBe(false);
    expect(matches({ detail: { object: { key: [{ 'anything-but': { prefix: 'tmp/' } }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ 'anything-but': { suffix: '.ms' } }] } } })).toBe(false);
    expect(matches({ detail: { object: { size: [{ numeric: ['>', 0, '<=', 5] }] } } })).toBe(true);
    expect(matches({ detail: { object: { size: [{ numeric: ['>=', 6] }] } } })).toBe(false);
    expect(matches({ detail: { object: { etag: [{ exists: true }] } } })).toBe(true);
    expect(matches({ detail: { object: { 'version-id': [{ exists: false }] } } })).toBe(true);
    expect(matches({ detail: { object: { etag: [{ exists: false }] } } })).toBe(false);
  });

  it('matches an event array when one element matches, and $or when one branch does', () => {
    expect(matches({ resources: ['arn:aws:s3:::raw-data'] })).toBe(true);
    expect(matches({ resources: [{ prefix: 'arn:aws:s3:::other' }] })).toBe(false);
    expect(matches({ source: ['aws.s3'], $or: [{ detail: { reason: ['CopyObject'] } }, { detail: { object: { size: [{ numeric: ['<', 10] }] } } }] })).toBe(true);
    expect(matches({ $or: [{ source: ['x'] }, { source: ['y'] }] })).toBe(false);
  });

  it('refuses what it does not implement or EventBridge would refuse, naming the field', () => {
    expect(() => checkEventPattern({})).toThrow('event pattern is empty: it would match every event');
    expect(() => checkEventPattern({ source: 'aws.s3' })).toThrow("event pattern field 'source': must be a non-empty list of values or an object, got \"aws.s3\"");
    expect(() => checkEventPattern({ detail: { ip: [{ cidr: '10.0.0.0/8' }] } })).toThrow("event pattern field 'detail.ip': operator 'cidr' is not supported");
    expect(() => checkEventPattern({ detail: { n: [{ numeric: ['>>', 1] }] } })).toThrow("event pattern field 'detail.n': 'numeric' takes pairs of an operator (<, <=, =, >=, >) and a number");
    expect(() => checkEventPattern({ detail: { k: [{ prefix: 1 }] } })).toThrow("event pattern field 'detail.k': 'prefix' takes a string or {\"equals-ignore-case\": string}, got 1");
    expect(() => checkEventPattern({ $or: [{ source: ['x'] }] })).toThrow("event pattern field '$or': $or takes a list of at least two patterns");
  });
});
