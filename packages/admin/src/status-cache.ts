/**
 * Caching that keeps a page polling many uploads far below Step Functions' API limits.
 *
 * Step Functions throttles its API per account and Region with token buckets ("Step Functions service quotas",
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Quotas related to API action
 * throttling"; bucket size / refill per second, us-east-1, us-west-2 and eu-west-1 first, other Regions second):
 *
 *   DescribeExecution   300 / 15    250 / 10
 *   ListExecutions      200 / 5     100 / 2
 *   ListMapRuns         100 / 1     100 / 1
 *   DescribeMapRun      200 / 1     200 / 1
 *   RedriveExecution    1,300 / 300 800 / 150
 *   (GetExecutionHistory 400 / 20: not called; a history is long and its pages many)
 *
 * The buckets are shared by everything in the account (the workflow itself, the CLI, the console), so the admin
 * spends at most half of the lowest refill rate on its own, whatever the number of pages polling:
 *  - one answer per upload is cached (`ttlMs`, 2 s by default, while it runs; longer once it ended: a finished
 *    upload changes only when redriven) and concurrent callers share one fetch (single flight);
 *  - what never changes is kept once read: the manifest, the summary, the Map Run's ARN;
 *  - a budget per API (a token bucket of our own at half the bucket and refill above) decides whether an
 *    expired answer is refreshed or served as it is a little longer;
 *  - DescribeMapRun (refilled at 1 a second for the whole account) goes round the running uploads: each is
 *    refreshed at most every (uploads watched / budget's refill) seconds, so 50 running uploads each get fresh
 *    chunk counts every 100 s and the other answers (execution status, manifest totals) stay live.
 * Entries are bounded (least recently used goes first).
 */

/** A bounded map that forgets the least recently used entry first. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly maxEntries: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/** A token bucket: `capacity` calls at once, refilled at `refillPerSecond`. */
export class RateBudget {
  private tokens: number;
  private at: number;
  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.at = now();
  }

  /** Takes a token if there is one. */
  tryTake(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.refillPerSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * The admin's own budget per Step Functions API: half the bucket and half the lowest refill rate of the table
 * above, so a first look at many uploads at once goes through and the sustained rate stays at half AWS's.
 */
export const SFN_BUDGETS = {
  DescribeExecution: { capacity: 125, refillPerSecond: 5 },
  ListExecutions: { capacity: 50, refillPerSecond: 1 },
  ListMapRuns: { capacity: 50, refillPerSecond: 0.5 },
  DescribeMapRun: { capacity: 100, refillPerSecond: 0.5 },
} as const;

export type SfnBudgets = Record<keyof typeof SFN_BUDGETS, RateBudget>;

export function sfnBudgets(now: () => number): SfnBudgets {
  const entries = Object.entries(SFN_BUDGETS).map(([api, { capacity, refillPerSecond }]) => [
    api,
    new RateBudget(capacity, refillPerSecond, now),
  ]);
  return Object.fromEntries(entries) as SfnBudgets;
}

interface Entry<V> {
  outcome?: Loaded<V>;
  expiresAt: number;
  inflight?: Promise<V>;
  generation: number;
}

/** What a load returns: the value (or an error to answer with, e.g. "no such upload") and how long it holds. */
export type Loaded<V> = { value: V; ttlMs: number } | { error: unknown; ttlMs: number };

const settle = <V>(outcome: Loaded<V>): Promise<V> =>
  "error" in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.value);

/**
 * Answers per key with a TTL, single flight and LRU bounds. `canRefresh` is asked before every load: when it
 * says no and an earlier value is there, that value is served as it is (a first look always loads).
 */
export class TtlCache<V> {
  private readonly entries: LruMap<string, Entry<V>>;
  private generation = 0;

  constructor(
    maxEntries: number,
    private readonly now: () => number,
  ) {
    this.entries = new LruMap(maxEntries);
  }

  get(key: string, load: () => Promise<Loaded<V>>, canRefresh: () => boolean = () => true): Promise<V> {
    const entry = this.entries.get(key);
    if (entry?.inflight) return entry.inflight;
    if (entry?.outcome && this.now() < entry.expiresAt) return settle(entry.outcome);
    // Asked on a first look too, so the budget counts it; only a value there already can be served instead.
    if (!canRefresh() && entry?.outcome && "value" in entry.outcome) return settle(entry.outcome);
    const generation = ++this.generation;
    const inflight = load().then((outcome) => {
      if (this.entries.get(key)?.generation === generation)
        this.entries.set(key, { outcome, expiresAt: this.now() + outcome.ttlMs, generation });
      return settle(outcome);
    });
    // A load that throws (network, throttling) leaves nothing behind: the next caller tries again.
    inflight.catch(() => {
      if (this.entries.get(key)?.generation === generation && this.entries.get(key)?.inflight)
        this.entries.delete(key);
    });
    this.entries.set(key, {
      ...(entry?.outcome ? { outcome: entry.outcome } : {}),
      expiresAt: 0,
      inflight,
      generation,
    });
    return inflight;
  }

  /** Forgets the key: the next get loads (a fetch under way when this is called does not fill the entry). */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
