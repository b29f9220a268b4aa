/** `hearth hint` refuses, with the reason, a hint the warmer would drop; a good one is sent. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_WARMER_CONFIG } from '../../warmer/config.js';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const hint = (...args: string[]) =>
  run(process.execPath, [HEARTH_CLI, 'hint', ...args]).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

describe('hearth hint (CLI)', function () {
  this.timeout(20000);
  let sink: dgram.Socket;
  let to: string;
  const received: string[] = [];

  before(async () => {
    sink = dgram.createSocket('udp4');
    sink.on('message', (m) => received.push(m.toString()));
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
    to = `127.0.0.1:${sink.address().port}`;
  });
  after(() => sink.close());

  it('exits 2 with the reason for a hint the warmer would drop, and sends nothing', async () => {
    const keyed = join(mkdtempSync(join(tmpdir(), 'hearth-hint-')), 'warmer.json');
    writeFileSync(keyed, JSON.stringify({ ...DEFAULT_WARMER_CONFIG, keys: { k1: 'a-secret-of-sixteen-or-more' } }));
    const cases: [string[], RegExp][] = [
      [['--viewer', 'not-ip', '/photos/1/100_z.jpg'], /viewer: "not-ip" is not an IP address/],
      [['--colo', 'mars', '/photos/1/100_z.jpg'], /colo: "mars" is not one of the warmer's colos \(sin, ams\)/],
      [['--colo', 'Not A Colo', '/photos/1/100_z.jpg'], /colo/],
      [['--colo', 'sin', '/manifest.json'], /path "\/manifest.json": not an image path/],
      [['--colo', 'sin', '--warmer-config', keyed, '/photos/1/100_z.jpg'], /unsigned: the warmer takes only signed hints/],
    ];
    for (const [args, why] of cases) {
      const r = await hint('--to', to, ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, why);
    }
    // A hint that is sent marks the end: by the time it arrives, anything the refused runs sent would have too.
    assert.equal((await hint('--to', to, '--colo', 'sin', '/photos/1/199_z.jpg')).code, 0);
    await until('the marker', () => (received.length > 0 ? true : undefined));
    assert.equal(received.length, 1);
    assert.match(received[0]!, /199_z/);
    received.length = 0;
  });

  it('sends a hint the warmer would take, and --no-check sends any', async () => {
    assert.equal((await hint('--to', to, '--viewer', '10.1.2.3', '/photos/1/100_z.jpg')).code, 0);
    assert.equal((await hint('--to', to, '--no-check', '--colo', 'mars', '/photos/1/100_z.jpg')).code, 0);
    await until('both hints', () => (received.length >= 2 ? true : undefined));
    assert.equal(received.length, 2);
    assert.match(received[0]!, /"viewer":"10.1.2.3"/);
    assert.match(received[1]!, /"colo":"mars"/);
  });
});
