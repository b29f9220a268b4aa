import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { docFiles, generatedFiles, regenerated, renderDocs } from '../cli/commands/docs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('docs', () => {
  it('every generated config and metric table is in exactly one page', () => {
    const files = docFiles(REPO);
    for (const name of Object.keys(renderDocs())) {
      const holders = files.filter((f) => readFileSync(f, 'utf8').includes(`<!-- generated:${name} -->`));
      assert.equal(holders.length, 1, `the ${name} section is in ${holders.length} files: ${holders.join(', ')}`);
    }
  });

  it('the tables match the definitions the code uses (fix: npm run docs)', () => {
    for (const [file, { text, next }] of regenerated(docFiles(REPO))) assert.equal(next, text, `${file} is out of date; run: npm run docs`);
  });

  it('the Grafana dashboard JSON in the repo is the one the panel definitions make (fix: npm run docs)', () => {
    for (const [file, next] of Object.entries(generatedFiles()))
      assert.equal(readFileSync(join(REPO, file), 'utf8'), next, `${file} is out of date; run: npm run docs`);
  });
});
