/** Mocha root hooks: after the whole run, stop the shared stack (if a test started it). */
import { stopTestStack } from './test-stack.js';

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(30000);
    await stopTestStack();
  },
};
