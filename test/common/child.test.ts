/** Tools we spawn die with us, even when we are killed with -9. */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/until.js';

const CHILD_MODULE = fileURLToPath(new URL('../../common/child.js', import.meta.url));

function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('child processes tied to their parent', function () {
  this.timeout(20000);

  it('a tool started with runTied is killed when its parent is killed with -9', async () => {
    // `sleep` with an odd duration is the marker: a tool that outlives its parent stays visible.
    const marker = `${3000 + Math.floor(Math.random() * 1000)}.25`;
    const parent = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { runTied } from ${JSON.stringify(CHILD_MODULE)}; runTied('sleep', ['${marker}']).catch(() => {}); setInterval(() => {}, 1000);`,
      ],
      { stdio: 'ignore' },
    );
    await until('the tool is running', () => (processesWith(`sleep\0${marker}`).length > 0 ? true : undefined));
    const exited = new Promise((r) => parent.once('exit', r));
    parent.kill('SIGKILL');
    await exited;
    await until('the tool died with its parent', () => (processesWith(`sleep\0${marker}`).length === 0 ? true : undefined), 2000);
  });
});
