/** Hearth's Prometheus rules and config, checked by Debian's promtool. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RULES_FILE, renderPrometheusConfig, scrapeJobsFor } from '../../monitoring/prometheus-config.js';
import { defaultTopology } from '../../topology/topology.js';

const run = promisify(execFile);
const TESTS = join(dirname(RULES_FILE), 'hearth.rules.test.yml');
const RUNBOOK = fileURLToPath(new URL('../../../docs/runbook.md', import.meta.url));
const alerts = (): string[] => [...readFileSync(RULES_FILE, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);

describe('Prometheus rules and config (promtool)', function () {
  this.timeout(30000);

  it('the rules are valid', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', RULES_FILE]);
    assert.match(stdout, /SUCCESS/);
  });

  it('every alert has a unit test that makes it fire, and the unit tests pass', async () => {
    const tests = readFileSync(TESTS, 'utf8');
    for (const a of alerts()) assert.match(tests, new RegExp(`alertname: ${a}\\n\\s+exp_alerts:`), `${a} has no test that expects it to fire`);
    const { stdout } = await run('promtool', ['test', 'rules', TESTS], { cwd: dirname(TESTS) });
    assert.match(stdout, /SUCCESS/);
  });

  it('every alert has a runbook section, and its runbook_url points there', () => {
    const runbook = readFileSync(RUNBOOK, 'utf8');
    const rules = readFileSync(RULES_FILE, 'utf8');
    for (const a of alerts()) {
      assert.match(runbook, new RegExp(`^## ${a}$`, 'm'), `docs/runbook.md lacks ${a}`);
      assert.ok(rules.includes(`runbook_url: 'docs/runbook.md#${a.toLowerCase()}'`), `${a}'s runbook_url`);
    }
  });

  it('the config rendered from the default topology passes promtool check config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-prometheus-'));
    const file = join(dir, 'prometheus.yml');
    const jobs = scrapeJobsFor(defaultTopology('/srv/store'));
    assert.deepEqual(jobs, [
      { job: 'warmer', targets: ['127.0.0.1:9464'] },
      { job: 'origin', targets: ['127.0.0.1:9468'] },
    ]);
    writeFileSync(file, renderPrometheusConfig({ jobs }));
    const { stdout } = await run('promtool', ['check', 'config', file]);
    assert.match(stdout, /SUCCESS/);
  });
});
