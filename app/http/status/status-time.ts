export { formatUtc } from '../../../schemas/status/format.js';
