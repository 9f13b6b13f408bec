/** A follow-up horizon: its label as configured (5m) and its length. */
export interface Horizon {
  readonly label: string;
  readonly ms: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "5m,1h,4h": plain whole numbers with a unit (s, m, h, d), strictly increasing. Throws with the reason. */
export function parseHorizons(text: string): Horizon[] {
  const horizons = text.split(',').map((part) => {
    const match = /^(\d{1,6})(s|m|h|d)$/.exec(part.trim());
    if (!match) throw new Error(`"${part.trim()}" is not a duration such as 30s, 5m, 1h or 2d`);
    const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
    if (ms <= 0) throw new Error(`"${part.trim()}" must be longer than 0`);
    return { label: part.trim(), ms };
  });
  for (let i = 1; i < horizons.length; i++) {
    if (horizons[i]!.ms <= horizons[i - 1]!.ms) throw new Error('horizons must be listed shortest first, without repeats');
  }
  return horizons;
}
