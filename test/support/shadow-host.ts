import { afterEach } from 'vitest';
import { ShadowHost, type ShadowHostOptions } from '../../app/shadow/host.js';
import { SHADOW_STATE } from '../../app/shadow/namespace.js';
import { waitFor } from './runtime.js';

/**
 * A test's shadow hosts: each started, and awaited until every gate's shadow group is made (its
 * `<gate>:since` in the shadow's state); all stopped and closed after each test.
 */
export function useShadowHosts(): (options: ShadowHostOptions) => Promise<ShadowHost> {
  const running: ShadowHost[] = [];
  afterEach(async () => {
    for (const shadow of running.splice(0)) {
      await shadow.stop();
      await shadow.close();
    }
  });
  return async (options) => {
    const shadow = new ShadowHost(options);
    running.push(shadow);
    shadow.start();
    const since = options.handlers.map((h) => `${h.name}:since`);
    await waitFor(async () => (await options.base.hmget(SHADOW_STATE, ...since)).every((v) => v !== null), { what: 'the shadow groups' });
    return shadow;
  };
}
