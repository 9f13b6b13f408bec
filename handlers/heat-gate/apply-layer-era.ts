/**
 * What the Apply Layer reads from quantum:harvest:proposal:{symbol} and which actions it
 * executes, by era (upstream microservices/apply_layer/main.py). Enforce mode writes only what
 * the era named by P26_APPLY_LAYER_ERA executes, in the field that era reads.
 */
export const applyLayerEras = ['seed', 'calibrated', 'newest'] as const;
export type ApplyLayerEra = (typeof applyLayerEras)[number];

export interface ApplyLayerRules {
  /**
   * The field the Apply Layer takes the action from. `harvest_action`: only that field
   * (8f5055c52, get_harvest_proposal lines 476-520), so enforce must write the calibrated action
   * there; `action`: `action` when `calibrated == "1"`, else `harvest_action` (since 2907945a7,
   * lines 519-524; 73fab1f55 lines 1100-1105).
   */
  readonly actionField: 'harvest_action' | 'action';
  /**
   * The close actions it executes. 8f5055c52 lines 600-643 and 2907945a7 lines 617/679:
   * FULL_CLOSE_PROPOSED, PARTIAL_75, PARTIAL_50, anything else an ERROR `unknown_action_…`
   * (PARTIAL_25 included); since 304998721 (73fab1f55 lines 1230, 1299, 1428) PARTIAL_25 too.
   */
  readonly closes: ReadonlySet<string>;
}

const threeCloses = new Set(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50']);

export const applyLayerRules: Record<ApplyLayerEra, ApplyLayerRules> = {
  seed: { actionField: 'harvest_action', closes: threeCloses },
  calibrated: { actionField: 'action', closes: threeCloses },
  newest: { actionField: 'action', closes: new Set([...threeCloses, 'PARTIAL_25']) },
};
