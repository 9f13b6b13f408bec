import type { Redis } from 'ioredis';
import type { AnyHandler, Clock, RedisReader, StreamTrigger } from '../../runtime/host/index.js';
import { decideBatch, Delivery, type DecisionEnv } from '../../runtime/host/replay.js';
import { compareStreamIds, fieldsToRecord } from '../../schemas/fields.js';
import { SHADOW_STATE, shadowGroup, shadowMarkerKey } from './namespace.js';
import { shadowDecisionEnv, shadowReject } from './decision-env.js';
import { markerReader } from './reader.js';
import { queueShadowRecords, shadowRecordsOf } from './record-batch.js';
import type { ShadowRecord } from './record.js';

/** What one shadowed gate needs: its own two connections (one blocks on its group), the clock, its limits. */
export interface ShadowGateDeps {
  readonly handler: AnyHandler;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Commands: reads the gate makes, the shadow's own writes and acknowledgements. */
  readonly redis: Redis;
  /** The blocking XREADGROUP's connection. */
  readonly reader: Redis;
  /** ctx.redis: the commands connection as the runtime gives it to gates (GateReader). */
  readonly gateReader: RedisReader;
  /** Redis's clock (RedisClock): `now`, and `sync` before each batch. */
  readonly clock: { readonly now: () => number; readonly sync: () => Promise<number> };
  readonly host: Clock;
  readonly consumer: string;
  readonly batchSize: number;
  readonly blockMs: number;
  /** The decisions stream's approximate length bound. */
  readonly maxLen: number;
  /** The longest a batch waits for the incumbent to acknowledge it first (afterIncumbent); 0: never waits. */
  readonly incumbentFirstMs: number;
  /** Told each batch's records once written (the live pairing takes them from here). */
  readonly onDecided?: (records: readonly ShadowRecord[]) => void;
  readonly onError?: (error: unknown) => void;
}

const MARKER_TTL_SEC = 86_400;
/** How long to wait for a stream that does not exist yet (the shadow never creates one: MKSTREAM would write a pipeline key). */
const NO_STREAM_WAIT_MS = 1_000;
/**
 * Between two looks at whether the incumbent has acknowledged a batch (two commands a look,
 * pipelined): short beside the gap between decisions, so the shadow decides soon after the
 * incumbent, not as its next message arrives. At 50 plans/s (bench/shadow-p99.ts) 20 ms put 0.23 ms
 * on the incumbent's mean latency; 5 ms, -0.09 and +0.08 ms in two sittings (docs/shadow.md).
 */
const INCUMBENT_POLL_MS = 5;

/**
 * One gate in shadow: reads its stream in a group of its own, decides each batch through the
 * engine's decideBatch (the fourth driver, beside the runtime, the rehearsal and the unit tests'
 * fake ctx) with everything it would write recorded, and writes only under the shadow's prefix:
 * its decisions, its idempotency markers and its dead letters, with the batch's acknowledgement in
 * one transaction, so a stop between batches leaves nothing pending.
 */
export class ShadowGate {
  readonly stream: string;
  readonly incumbentGroup: string;
  readonly group: string;
  private readonly decisionEnv: DecisionEnv;
  private markers: ReadonlySet<string> = new Set();
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  /** Decisions recorded since start. */
  decided = 0;

  constructor(private readonly deps: ShadowGateDeps) {
    const { handler } = deps;
    if (handler.trigger.kind !== 'stream') throw new Error(`${handler.name} is not fed by a stream: the shadow hosts stream gates only`);
    const config: unknown = handler.config(deps.env);
    const trigger = handler.trigger as StreamTrigger<unknown>;
    this.stream = trigger.stream(config);
    this.incumbentGroup = trigger.group(config);
    this.group = shadowGroup(this.incumbentGroup);
    const reader = markerReader(deps.gateReader, () => this.markers);
    this.decisionEnv = shadowDecisionEnv(handler, config, reader, deps.clock);
  }

  get name(): string {
    return this.deps.handler.name;
  }

  start(): void {
    this.loop = this.run().catch((error: unknown) => this.deps.onError?.(error));
  }

  /** Stops after the batch in hand is recorded and acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  /**
   * The group, created at the stream's last entry (never MKSTREAM: it waits for the stream); that
   * id is kept as where the shadow began. Only commands of the gates' own account list and
   * XGROUP DESTROY (docs/shadow.md).
   */
  private async ensureGroup(): Promise<void> {
    const { redis, host } = this.deps;
    while (!this.stopping) {
      if ((await redis.type(this.stream)) !== 'stream') {
        await host.sleep(NO_STREAM_WAIT_MS);
        continue;
      }
      const last = (await redis.xrevrange(this.stream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
      await redis.hset(SHADOW_STATE, `${this.name}:stream`, this.stream, `${this.name}:group`, this.group);
      try {
        await redis.xgroup('CREATE', this.stream, this.group, last);
      } catch (error) {
        // A group a killed shadow left: destroyed and made again here, a fresh comparison.
        if (!String(error).includes('BUSYGROUP')) throw error;
        await redis.xgroup('DESTROY', this.stream, this.group);
        continue;
      }
      await redis.hset(SHADOW_STATE, `${this.name}:since`, last);
      return;
    }
  }

  private async run(): Promise<void> {
    await this.ensureGroup();
    // Its own pending first (a shadow killed mid-batch), then new entries.
    let from = '0';
    while (!this.stopping) {
      const reply = (await this.deps.reader.xreadgroup(
        'GROUP',
        this.group,
        this.deps.consumer,
        'COUNT',
        this.deps.batchSize,
        'BLOCK',
        this.deps.blockMs,
        'STREAMS',
        this.stream,
        from,
      )) as [string, [string, string[] | null][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (from === '0' && entries.length === 0) from = '>';
      if (entries.length === 0) continue;
      await this.afterIncumbent(entries[0]![0], entries.at(-1)![0]);
      await this.decide(entries);
    }
  }

  /**
   * Waits until the incumbent's group has been handed and has acknowledged the batch's entries
   * (`firstId` to `lastId`; older entries it holds are not the shadow's to wait for), at most
   * incumbentFirstMs: both groups are handed each entry at the same moment, and deciding it then
   * would put the shadow's reads and CPU beside the incumbent's on the same Redis and cores. After,
   * they fall between the incumbent's decisions (docs/shadow.md, "Never in the incumbent's way").
   * Nothing to wait for where no incumbent reads the group (none made, or no consumer in it: none
   * was ever handed an entry, as with the tests' stand-in, which writes the Python services'
   * outputs itself). An incumbent that stalls costs
   * the shadow incumbentFirstMs a batch, and its lag shows it.
   */
  private async afterIncumbent(firstId: string, lastId: string): Promise<void> {
    const { redis, host, incumbentFirstMs } = this.deps;
    const deadline = host.now() + incumbentFirstMs;
    while (!this.stopping && host.now() < deadline) {
      // A stream or group gone meanwhile (NOGROUP, no such key): no incumbent to wait for.
      const looked = await Promise.all([
        redis.xinfo('GROUPS', this.stream) as Promise<unknown[][]>,
        redis.xpending(this.stream, this.incumbentGroup, firstId, lastId, 1),
      ]).catch(() => undefined);
      if (looked === undefined) return;
      const [groups, pending] = looked;
      const incumbent = groups.map((row) => fieldsToRecord(row.map(String))).find((group) => group.name === this.incumbentGroup);
      if (incumbent === undefined || Number(incumbent.consumers) === 0) return;
      const delivered = compareStreamIds(incumbent['last-delivered-id'] ?? '0-0', lastId) >= 0;
      if (delivered && pending.length === 0) return;
      await host.sleep(INCUMBENT_POLL_MS);
    }
  }

  /** Decides one batch and records it: never sent, never retried (a throw is recorded as the decision). */
  async decide(entries: readonly [string, string[] | null][]): Promise<readonly ShadowRecord[]> {
    const { handler } = this.deps;
    const details = new Map<Delivery, string>();
    const deliveries = entries.map(([id, fields]) => {
      const raw = fields === null ? {} : fieldsToRecord(fields);
      return new Delivery({ id, raw, producedAt: Number.parseInt(id, 10) }, fields === null ? null : raw, 1, id);
    });
    const idempotencyKeys = new Map<Delivery, readonly (string | { key: string; id: string })[]>();
    for (const delivery of deliveries) {
      const parsed = handler.input.safeParse(delivery.data);
      if (parsed.success) idempotencyKeys.set(delivery, handler.idempotency?.keys?.(parsed.data, delivery.meta) ?? []);
    }
    this.markers = new Set([...idempotencyKeys.values()].flat().map((k) => (typeof k === 'string' ? k : k.key)));
    const reject = shadowReject(details);
    const failed = new Map<Delivery, string>();
    try {
      for (let run: readonly Delivery[] = deliveries; run.length > 0;) {
        const later = await decideBatch(handler, this.decisionEnv, run, reject, { maxDeliveries: Number.POSITIVE_INFINITY });
        run = [...(await this.settleMarkers(run, later, idempotencyKeys)), ...later];
      }
    } catch (error) {
      for (const delivery of deliveries) failed.set(delivery, error instanceof Error ? error.message : String(error));
    }
    const records = shadowRecordsOf(this.name, deliveries, failed, this.deps.clock.now());
    const tx = this.deps.redis.multi();
    queueShadowRecords(tx, this.name, this.deps.maxLen, records, details);
    tx.hset(SHADOW_STATE, `${this.name}:last`, entries.at(-1)![0]);
    tx.xack(this.stream, this.group, ...entries.map(([id]) => id));
    await tx.exec();
    this.decided += records.length;
    this.deps.onDecided?.(records);
    return records;
  }

  /**
   * The commit's idempotency guards, as the shadow keeps them: of the deliveries just decided (in
   * order), each handled one's keys are written as its markers before anything is decided again;
   * one whose key an earlier one of the same run wrote would have conflicted at its commit, and is
   * returned to be decided again (it reads the marker: a duplicate), as the runtime reruns it.
   */
  private async settleMarkers(
    run: readonly Delivery[],
    later: readonly Delivery[],
    idempotencyKeys: ReadonlyMap<Delivery, readonly (string | { key: string; id: string })[]>,
  ): Promise<Delivery[]> {
    const written = new Set<string>();
    const again: Delivery[] = [];
    const tx = this.deps.redis.multi();
    for (const delivery of run) {
      if (later.includes(delivery)) continue;
      const keys = idempotencyKeys.get(delivery) ?? [];
      const names = keys.map((k) => (typeof k === 'string' ? k : k.key));
      if (names.some((name) => written.has(name))) {
        again.push(delivery);
        continue;
      }
      if (delivery.outcome.kind !== 'handled') continue;
      for (const key of keys) if (this.markWritten(tx, delivery, key)) written.add(typeof key === 'string' ? key : key.key);
    }
    if (written.size > 0) await tx.exec();
    else tx.discard();
    return again;
  }

  /** The gate's idempotency key, as its decision wrote it (when it did), kept as the shadow's marker; whether it was. */
  private markWritten(tx: ReturnType<Redis['multi']>, delivery: Delivery, key: string | { key: string; id: string }): boolean {
    const name = typeof key === 'string' ? key : key.key;
    const written = (delivery.recorder?.effects ?? []).find((e) => e.op !== 'emit' && e.key === name);
    if (written === undefined) return false;
    const ttl = 'ttlSec' in written && written.ttlSec !== undefined ? written.ttlSec : MARKER_TTL_SEC;
    // The value the gate wrote (the governor's onDuplicate compares a plan's fingerprint with it).
    const value = written.op === 'setKey' ? written.value : typeof key === 'string' ? '1' : key.id;
    tx.set(shadowMarkerKey(name), value, 'EX', ttl);
    return true;
  }
}
