/**
 * One partition a send (kafka/producer.ts): what a send spanning partitions is cut into.
 * Losing nothing because of it, on real nodes, is the cluster test's.
 */
import assert from 'node:assert/strict';
import { byPartition } from '../../kafka/index.js';

describe('producer: one partition a send', () => {
  it('groups by explicit partition, then by key, keeping each group in order; a message with neither goes alone', () => {
    const groups = byPartition([
      {
        topic: 'a',
        messages: [
          { key: '1', value: 'a1' },
          { key: '2', value: 'a2' },
          { key: '1', value: 'a1b' },
          { value: 'x' },
          { value: 'y' },
          { partition: 3, value: 'p3' },
          { key: 'z', partition: 3, value: 'p3b' },
        ],
      },
      {
        topic: 'b',
        messages: [
          { key: '1', value: 'b1' },
          { key: Buffer.from('1'), value: 'b1b' },
        ],
      },
    ]);
    assert.deepEqual(
      groups.map((g) => [g.topic, g.messages.map((m) => m.value)]),
      [
        ['a', ['a1', 'a1b']],
        ['a', ['a2']],
        ['a', ['x']],
        ['a', ['y']],
        ['a', ['p3', 'p3b']],
        ['b', ['b1', 'b1b']],
      ],
    );
  });
});
