import type { HeatAssessment } from '../positions/heat.js';

/** A mark by the price rule of handlers/positions/prices.ts: its price, source and time (ms; undefined: a quote of no time). */
export interface DecisionMark {
  readonly price: number;
  readonly source: string;
  readonly asOfMs: number | undefined;
  /** ms between the quote's time and the decision (undefined: a quote of no time). */
  readonly ageMs: number | undefined;
}

/** The symbol's mark and position at decision time (see DecisionFacts.atDecision). */
export interface AtDecision {
  readonly mark: DecisionMark | null;
  readonly positionUsd: number | undefined;
}

/**
 * Pieces of debug_json's text, written exactly as JSON.stringify writes them, for the decisions
 * (nearly all) whose JSON is the same head and shares: formatting its doubles (the thresholds, the
 * heat, the mark) was most of a decision's CPU in JSON.stringify, and they repeat from message to
 * message (settings, the batch's heat, a symbol's mark). handlers/heat-gate/outputs.ts joins them.
 */

/** JSON.stringify(x) for a number: its shortest text (as String(x)), null when not finite; kept. */
export function jsonNumber(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  let text = numberTexts.get(x);
  if (text === undefined) {
    // A bound, not an eviction policy: a batch repeats a few dozen values.
    if (numberTexts.size >= NUMBER_TEXTS_MAX) numberTexts.clear();
    numberTexts.set(x, (text = String(x)));
  }
  return text;
}
const NUMBER_TEXTS_MAX = 512;
const numberTexts = new Map<number, string>();

/** `{"warm":…,"hot":…}`, the last pair's kept (they are the gate's settings). */
export function thresholdsText(warm: number, hot: number): string {
  if (!Object.is(warm, lastWarm) || !Object.is(hot, lastHot)) {
    lastWarm = warm;
    lastHot = hot;
    lastThresholds = `{"warm":${jsonNumber(warm)},"hot":${jsonNumber(hot)}}`;
  }
  return lastThresholds;
}
let lastWarm = Number.NaN;
let lastHot = Number.NaN;
let lastThresholds = '';

/** `,"heat":…,"positions":…[,"heat_capped":true]` of a trusted assessment, once per assessment (a batch shares one). */
export function heatMembers(a: Extract<HeatAssessment, { trusted: true }>): string {
  let text = heatTexts.get(a);
  if (text === undefined) {
    text = `,"heat":${jsonNumber(a.heat)},"positions":${jsonNumber(a.positionsCounted)}${a.capped ? ',"heat_capped":true' : ''}`;
    heatTexts.set(a, text);
  }
  return text;
}
const heatTexts = new WeakMap<object, string>();

/** The decision's mark and position as members (outputs.ts atDecisionJson, as text). */
export function atDecisionMembers(at: AtDecision): string {
  const mark = at.mark;
  let text = `,"mark":${mark === null ? 'null' : jsonNumber(mark.price)}`;
  if (mark !== null) {
    text += `,"mark_source":${JSON.stringify(mark.source)}`;
    if (mark.asOfMs !== undefined) text += `,"mark_at":${jsonNumber(mark.asOfMs)}`;
    if (mark.ageMs !== undefined) text += `,"mark_age_ms":${jsonNumber(mark.ageMs)}`;
  }
  if (at.positionUsd !== undefined) text += `,"position_usd":${jsonNumber(at.positionUsd)}`;
  return text;
}
