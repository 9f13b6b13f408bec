import type { TapeRecord } from '../../app/cli-door.js';

/** A decision of either side, as the tape carries one (the shadow's records and the Python readers' have no reads). */
export type Decided = Pick<TapeRecord, 'gate' | 'id' | 'producedAt' | 'raw' | 'outcome' | 'effects' | 'jobs'> &
  Partial<Pick<TapeRecord, 'reads' | 'state' | 'data'>>;
