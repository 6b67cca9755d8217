import type { buildApp } from "fauxqs";

/**
 * The parts of fauxqs 1.9.2 the local front reuses that its package entry does not export: its SQS and SNS
 * stores (buildApp takes all three stores or none, and SendMessage needs the queues). Loaded from beside the
 * package's entry file, so the pinned version's own code runs; typed here by what the runtime uses.
 */

type BuildAppOptions = NonNullable<Parameters<typeof buildApp>[0]>;
export type FauxqsStores = NonNullable<BuildAppOptions["stores"]>;

export interface FauxqsMessage {
  messageId: string;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  sequenceNumber?: string;
}

export interface FauxqsQueue {
  readonly url: string;
  readonly arn: string;
  attributes: Record<string, string>;
  isFifo(): boolean;
  enqueue(message: FauxqsMessage): void;
  checkDeduplication(id: string): {
    isDuplicate: boolean;
    originalMessageId?: string;
    originalSequenceNumber?: string;
  };
  nextSequenceNumber(): string;
  recordDeduplication(id: string, messageId: string, sequenceNumber?: string): void;
}

export interface FauxqsSqsStore {
  getQueue(url: string): FauxqsQueue | undefined;
  createQueue(
    name: string,
    url: string,
    arn: string,
    attributes?: Record<string, string>,
    tags?: Record<string, string>,
  ): FauxqsQueue;
  buildQueueUrl(name: string, port: string, requestHost: string, region: string): string;
  region: string;
}

export interface FauxqsSqsStoreClass {
  new (): FauxqsSqsStore;
  createMessage(
    body: string,
    messageAttributes?: Record<string, unknown>,
    delaySeconds?: number,
    messageGroupId?: string,
    messageDeduplicationId?: string,
  ): FauxqsMessage;
  contentBasedDeduplicationId(body: string): string;
}

/** fauxqs's S3 error: its S3 routes answer only this class with an S3 error document (anything else is a 500). */
export interface FauxqsS3Error extends Error {
  readonly code: string;
  readonly statusCode: number;
  toXml(): string;
}

export interface FauxqsInternals {
  SqsStore: FauxqsSqsStoreClass;
  S3Error: new (code: string, message: string, statusCode?: number, resource?: string) => FauxqsS3Error;
  SnsStore: new () => FauxqsStores["snsStore"];
  md5OfMessageAttributes(attributes: Record<string, unknown>): string;
  /** Body size as fauxqs (and AWS) count it: the body's and every attribute's name, type and value bytes. */
  calculateMessageSize(body: string, attributes: Record<string, unknown>): number;
  sqsQueueArn(name: string, region: string): string;
}

let loaded: Promise<FauxqsInternals> | undefined;

export function fauxqsInternals(): Promise<FauxqsInternals> {
  loaded ??= (async () => {
    const entry = import.meta.resolve("fauxqs");
    const load = (path: string) => import(new URL(path, entry).href);
    const [sqs, sns, md5, types, arn, errors] = await Promise.all([
      load("./sqs/sqsStore.js"),
      load("./sns/snsStore.js"),
      load("./common/md5.js"),
      load("./sqs/sqsTypes.js"),
      load("./common/arnHelper.js"),
      load("./common/errors.js"),
    ]);
    return {
      SqsStore: sqs.SqsStore,
      SnsStore: sns.SnsStore,
      S3Error: errors.S3Error,
      md5OfMessageAttributes: md5.md5OfMessageAttributes,
      calculateMessageSize: types.calculateMessageSize,
      sqsQueueArn: arn.sqsQueueArn,
    };
  })();
  return loaded;
}
