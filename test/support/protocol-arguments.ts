import fc from 'fast-check';

/**
 * Arguments for the protocol encoders' property tests (resp.ts, resp-args.ts): any text, non-ASCII
 * and lone surrogates included, and the lengths where the encoders change course.
 */
export const protocolArgument = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }), // lone surrogates included
  fc.string({ minLength: 30, maxLength: 200 }),
  fc.constantFrom(
    '',
    'XADD',
    '*',
    '0.0031200000000000004',
    'é',
    '€',
    '😀',
    '\uD800',
    'a'.repeat(32),
    'a'.repeat(33),
    'ß'.repeat(40),
    // Copied by hand up to COPY_BY_HAND (1,024) characters: lengths of two, three and four digits,
    // its edge, and a non-ASCII character late in a long one.
    'a'.repeat(99),
    'a'.repeat(100),
    'a'.repeat(999),
    'a'.repeat(1000),
    'a'.repeat(1024),
    'a'.repeat(1025),
    `${'a'.repeat(700)}é`,
  ),
);
