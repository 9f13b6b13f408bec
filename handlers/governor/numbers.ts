export { parseNumber } from '../../schemas/fields.js';
export { usd } from '../../domain/money.js';
