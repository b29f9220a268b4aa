/** Mocha root hooks: after the whole run, stop the shared stack and broker (if a test started them). */
import { stopTestKafka } from './test-kafka.js';
import { stopTestStack } from './test-stack.js';

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(30000);
    await Promise.all([stopTestStack(), stopTestKafka()]);
  },
};
