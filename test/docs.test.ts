import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spliceDocs } from '../common/docs.js';
import { renderDocs } from '../cli/commands/docs.js';

describe('README', () => {
  it('config and metric tables match the definitions the code uses (fix: npm run docs)', () => {
    const file = fileURLToPath(new URL('../../README.md', import.meta.url));
    const text = readFileSync(file, 'utf8');
    const sections = renderDocs();
    for (const name of Object.keys(sections)) assert.ok(text.includes(`<!-- generated:${name} -->`), `README lacks the ${name} section`);
    assert.equal(spliceDocs(text, sections), text, 'README.md is out of date; run: npm run docs');
  });
});
