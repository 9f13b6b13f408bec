// Imported by name here, not by job-queues.ts's dynamic import of 'bullmq': in the bundle bullmq is
// CommonJS, and a dynamic import of it answers only a default export. job-queues.ts loads this
// module on first need.
export { Queue } from 'bullmq';
