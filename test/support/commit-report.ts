import type { CommitReport, CommitSource } from '../../runtime/engine/batch-script.js';
import type { Committer } from '../../runtime/engine/commit.js';
import type { CommitAnswer, CommitItem } from '../../runtime/engine/delivery.js';

/** What a commit did, as lists of positions in `items` per answer: how the tests state expectations. */
export interface AnswersByPosition {
  readonly committed: number[];
  readonly conflicted: number[];
  readonly lost: number[];
  readonly superseded: number[];
  readonly withheld: number[];
  readonly waiting: number[];
  readonly effectFailures: { item: number; effect: unknown; error: Error }[];
  readonly trimmed?: number;
}

/** The answers a commit set on `items`, by position (effect failures name their item's position, -1 for none). */
export function byPosition<Item extends CommitItem>(items: readonly Item[], report: CommitReport<Item>): AnswersByPosition {
  const with_ = (answer: CommitAnswer) => items.flatMap((item, i) => (item.answer === answer ? [i] : []));
  return {
    committed: with_('committed'),
    conflicted: with_('conflicted'),
    lost: with_('lost'),
    superseded: with_('superseded'),
    withheld: with_('withheld'),
    waiting: with_('waiting'),
    effectFailures: report.effectFailures.map((f) => ({ ...f, item: f.item === undefined ? -1 : items.indexOf(f.item) })),
    ...(report.trimmed === undefined ? {} : { trimmed: report.trimmed }),
  };
}

/** Commits `items` and answers by position. */
export async function commitAndReport<Item extends CommitItem>(
  committer: Committer,
  source: CommitSource | undefined,
  items: readonly Item[],
): Promise<AnswersByPosition> {
  return byPosition(items, await committer.commit(source, items));
}
