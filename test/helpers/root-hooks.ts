/** Mocha root hooks: after the whole run, stop the shared stacks, broker and Ceph cluster (if a test started them); on a signal, leave nothing behind. */
import { stopTestKafka } from './test-kafka.js';
import { stopTestStack } from './test-stack.js';
import { stopPipelineStack } from './pipeline-stack.js';
import { stopTestCeph } from './test-ceph.js';

// Ctrl-C or a CI timeout's SIGTERM: exit through process.exit, so the 'exit' handlers
// that kill the stacks and brokers the run started do run (a signal's default action skips them).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    // A whole-pipeline stack takes half a minute to stop (workers leave their group, the broker flushes).
    this.timeout(120_000);
    await Promise.all([stopTestStack(), stopPipelineStack(), stopTestKafka(), stopTestCeph()]);
  },
};
