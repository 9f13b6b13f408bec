import type { FailClosedCause } from '../../schemas/heat-gate.js';

/**
 * The `p26_failures_total{reason}` label of a fail-closed cause: the original's four label values
 * only (`_get_portfolio_heat`, `_process_proposal`). Python's float() raised on an equity that is
 * no number, which the original counted as heat_calculation_error; our stricter checks of position
 * figures count there too.
 */
export const failureLabelOf: Record<
  FailClosedCause,
  'portfolio_state_missing' | 'invalid_equity' | 'heat_calculation_error' | 'processing_error'
> = {
  portfolio_state_missing: 'portfolio_state_missing',
  equity_missing: 'invalid_equity',
  equity_not_positive: 'invalid_equity',
  equity_not_a_number: 'heat_calculation_error',
  position_not_a_number: 'heat_calculation_error',
  position_stamped_ahead: 'heat_calculation_error',
  heat_gate_error: 'processing_error',
  invalid_input: 'processing_error',
  book_unreadable: 'heat_calculation_error',
};
