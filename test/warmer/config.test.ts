import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../common/schema.js';
import { DEFAULT_WARMER_CONFIG, loadWarmerConfig, parseWarmerConfig, perColoConcurrency } from '../../warmer/config.js';

const minimal = { colos: [{ name: 'sin', host: 'cache-sin.hearth.local' }] };

function problems(raw: unknown): string[] {
  try {
    parseWarmerConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return [...err.problems];
  }
  assert.fail('expected a ValidationError');
}

describe('warmer config v1', () => {
  it('embedded default matches the local stack of the design brief', () => {
    const c = loadWarmerConfig();
    assert.equal(c.udp.port, 4950);
    assert.equal(c.http.port, 9464);
    assert.equal(c.proxy, 'http://127.0.0.1:8080');
    assert.deepEqual(
      c.colos.map((x) => x.name),
      ['sin', 'ams'],
    );
    assert.equal(c.defaultColo, DEFAULT_WARMER_CONFIG.defaultColo);
  });

  it('fills defaults for everything but colos', () => {
    const c = parseWarmerConfig(minimal);
    assert.equal(c.ttlMs, 50);
    assert.deepEqual(c.dedup, { ttlMs: 600000, max: 1000000 });
    assert.equal(c.push.method, 'HEAD');
    assert.equal(c.push.concurrency, 1024);
    assert.equal(perColoConcurrency(c), 512);
    assert.equal(c.push.deadlineMs, 1000);
    assert.deepEqual(c.keys, {});
    assert.deepEqual(c.colos[0]?.cidrs, []);
  });

  it('names every bad field in one error', () => {
    const p = problems({ ...minimal, ttlMs: 'fast', push: { method: 'POST', concurrency: 0 }, udp: { port: 70000 }, typo: 1 });
    const text = p.join('\n');
    for (const field of ['ttlMs', 'push.method', 'push.concurrency', 'udp.port', 'typo']) assert.match(text, new RegExp(`^${field.replace('.', '\\.')}:`, 'm'));
  });

  it('checks what the schema cannot: CIDRs, defaultColo, duplicates, proxy, regex', () => {
    const p = problems({
      colos: [
        { name: 'sin', host: 'a', cidrs: ['10.0.0.0/33', 'nope'] },
        { name: 'sin', host: 'b' },
      ],
      defaultColo: 'ams',
      proxy: 'http://127.0.0.1:8080/some/path',
      allowPaths: '^/photos/(unclosed$',
    });
    const text = p.join('\n');
    for (const field of ['colos\\[0\\]\\.cidrs\\[0\\]', 'colos\\[0\\]\\.cidrs\\[1\\]', 'colos\\[1\\]\\.name', 'defaultColo', 'proxy', 'allowPaths']) {
      assert.match(text, new RegExp(`^${field}:`, 'm'));
    }
  });

  it('requires anchored path patterns, short keys are refused', () => {
    assert.match(problems({ ...minimal, allowPaths: '/photos/' }).join(), /allowPaths: must be anchored/);
    assert.match(problems({ ...minimal, keys: { k1: 'short' } }).join(), /^keys\.k1:/m);
  });

  it('reports unreadable and non-JSON files with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-cfg-'));
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{ nope');
    assert.throws(
      () => loadWarmerConfig(f),
      (e: Error) => e instanceof ValidationError && e.message.includes(f) && /not JSON/.test(e.message),
    );
    assert.throws(() => loadWarmerConfig(join(dir, 'missing.json')), /cannot read/);
  });
});
