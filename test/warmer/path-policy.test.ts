import assert from 'node:assert/strict';
import { PathPolicy } from '../../warmer/path-policy.js';

describe('path policy', () => {
  const strict = new PathPolicy('^/photos/[0-9]+/[0-9A-Za-z_]+\\.jpg$');
  const loose = new PathPolicy('^.*$');

  it('allows image paths that match the pattern', () => {
    assert.ok(strict.allows('/photos/12/345_b.jpg'));
    assert.ok(!strict.allows('/photos/12/345_b.png'));
  });

  const evil = [
    'http://evil.example/x.jpg',
    '//evil.example/x.jpg',
    '/photos/../etc/passwd',
    '/photos/%2e%2e/x.jpg',
    '/photos/%2E%2E/x.jpg',
    '/photos/1/a.jpg\r\nHost: evil',
    '/photos/1/a\u0000.jpg',
    '/photos/1/é.jpg',
    '/photos/1/a.jpg?x=1',
    '/photos/1/a.jpg#f',
    '/photos/./1/a.jpg',
    '/photos/1/..',
    'photos/1/a.jpg',
    '/photos\\..\\x',
    '/a b.jpg',
    '/photos/1/a.jpg@evil',
    '/' + 'a'.repeat(1100),
  ];
  for (const p of evil)
    it(`refuses ${JSON.stringify(p).slice(0, 40)} even under a pattern that allows anything`, () => {
      assert.equal(loose.allows(p), false);
      assert.equal(strict.allows(p), false);
    });
});
