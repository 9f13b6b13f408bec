import * as z from 'zod';
import type { Horizon } from './horizons.js';

/** A sample to take: a member of keys.outcomeDue, or a sample job's data (the shadow's, and jobs of before 1.11.0). */
export const sampleJob = z.looseObject({
  id: z.string().min(1),
  horizon: z.string().min(1),
  horizon_ms: z.coerce.number().int().positive(),
});
export type SampleJob = z.infer<typeof sampleJob>;

/** A follow-up's sample at `horizon` as keys.outcomeDue holds it: one member a follow-up and horizon. */
export function dueSample(id: string, horizon: Pick<Horizon, 'label' | 'ms'>): string {
  return JSON.stringify({ id, horizon: horizon.label, horizon_ms: horizon.ms });
}

/** A member of keys.outcomeDue as its sample, or undefined when it is none. */
export function parseDueSample(member: string): SampleJob | undefined {
  try {
    const parsed = sampleJob.safeParse(JSON.parse(member));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
