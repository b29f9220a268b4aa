/** Following a log from a cursor (race/follow.ts): nothing lost to the start, rotation or a late file. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFollower } from '../../race/follow.js';
import { until } from '../helpers/until.js';

describe('following a log', () => {
  const followers: LogFollower[] = [];
  afterEach(() => followers.splice(0).forEach((f) => f.stop()));

  function follow(file: string, fromStart = false): { lines: string[]; errors: unknown[] } {
    const got = { lines: [] as string[], errors: [] as unknown[] };
    const f = new LogFollower(file, { fromStart, pollMs: 20, onLine: (l) => got.lines.push(l), onError: (e) => got.errors.push(e) });
    followers.push(f);
    f.start();
    return got;
  }

  it('reads a line written the moment it starts, and none from before it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-follow-')), 'a.log');
    writeFileSync(file, 'old\n');
    const got = follow(file);
    appendFileSync(file, 'new 1\nnew ');
    appendFileSync(file, '2 é\n');
    await until('both new lines', () => (got.lines.length === 2 ? true : undefined));
    assert.deepEqual(got.lines, ['new 1', 'new 2 é']);
  });

  it('reads a rotated file to its end, then the new one from its start; a file that appears late, whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-follow-'));
    const file = join(dir, 'a.log');
    const late = follow(join(dir, 'late.log'));
    writeFileSync(file, '');
    const got = follow(file);
    appendFileSync(file, 'one\n');
    await until('the first line', () => (got.lines.length === 1 ? true : undefined));
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, 'two, written after the rename\n');
    writeFileSync(file, 'three, in the new file\n');
    await until('three lines', () => (got.lines.length === 3 ? true : undefined));
    assert.deepEqual(got.lines, ['one', 'two, written after the rename', 'three, in the new file']);
    writeFileSync(join(dir, 'late.log'), 'there at last\n');
    await until('the late file read', () => (late.lines.length === 1 ? true : undefined));
    assert.equal(late.errors.length, 1, 'its absence said once');
  });
});
