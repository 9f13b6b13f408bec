import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from './runtime.js';

/** The HTTP routes beyond /metrics, /health and /ready that the process serves. */
export function httpPlugins(_services: RuntimeServices): FastifyPluginAsync[] {
  return [];
}
