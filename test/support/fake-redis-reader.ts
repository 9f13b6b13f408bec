// The in-memory reader handler tests read through is the runtime's own (the start-up warm-up's).
export { SampleRedisReader as FakeRedisReader } from '../../runtime/sources/sample-redis-reader.js';
export type { SampleRedis as FakeRedisData } from '../../runtime/contract/warm-up.js';
