// Preload: samples every allocation site (including objects the GC already collected) and writes
// a .heapprofile on SIGTERM (ALLOC_PROF_OUT, default /tmp/alloc.heapprofile). node --import ./bench/alloc-prof.mjs ...
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import process from 'node:process';
const session = new Session();
session.connect();
const post = (m, p) => new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))));
await post('HeapProfiler.enable');
await post('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.prependListener('SIGTERM', () => {
  session.post('HeapProfiler.stopSampling', (e, r) => {
    writeFileSync(process.env.ALLOC_PROF_OUT ?? '/tmp/alloc.heapprofile', JSON.stringify(r.profile));
  });
});
