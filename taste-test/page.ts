/**
 * The tester's page: two photographs side by side at their own pixel size (scaling would
 * hide the very artefacts under test), on a neutral grey, nothing labelled, and two
 * buttons. No feedback per trial: testers who learn what to look for from feedback stop
 * being a sample of viewers.
 */
import type { Report, Verdict } from './stats.js';

export const TESTER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Which is which? A photo taste test</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { margin: 0; background: #7f7f7f; color: #111; font: 16px/1.4 system-ui, sans-serif; }
  header { padding: 12px 20px; background: #6f6f6f; color: #fff; display: flex; justify-content: space-between; align-items: center; }
  main { padding: 16px 20px; }
  .pair { display: flex; flex-wrap: wrap; gap: 16px; justify-content: center; align-items: flex-start; min-height: 120px; }
  .pair img { display: block; max-width: none; }
  .ask { text-align: center; margin: 18px 0; }
  button { font: inherit; font-size: 18px; padding: 10px 28px; margin: 0 10px; border-radius: 6px; border: 1px solid #333; background: #eee; cursor: pointer; }
  button:disabled { opacity: 0.4; cursor: default; }
  #done { display: none; text-align: center; padding: 40px; background: #eee; border-radius: 8px; max-width: 560px; margin: 40px auto; }
  #error { display: none; color: #fff; background: #a33; padding: 8px 12px; border-radius: 4px; margin: 8px 0; }
</style>
</head>
<body>
<header><span>Look closely at both photographs.</span><span id="progress"></span></header>
<main>
  <div id="error" role="alert"></div>
  <div id="trial">
    <div class="pair"><img id="left" alt=""><img id="right" alt=""></div>
    <div class="ask">
      <p>Are these two pictures exactly the same, or is one of them different?</p>
      <button id="same" disabled>Same <small>(S)</small></button>
      <button id="different" disabled>Different <small>(D)</small></button>
    </div>
  </div>
  <div id="done"><h2>Thank you</h2><p>Your answers are recorded.</p></div>
</main>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  let tester = params.get('tester') || localStorage.getItem('hearth-taste-tester');
  if (!tester) {
    tester = 'anon-' + Math.random().toString(36).slice(2, 10);
    localStorage.setItem('hearth-taste-tester', tester);
  }
  const $ = (id) => document.getElementById(id);
  let current = null;
  const enable = (on) => { $('same').disabled = !on; $('different').disabled = !on; };
  const fail = (msg) => { $('error').textContent = msg; $('error').style.display = 'block'; };
  const load = (img, src) => new Promise((resolve, reject) => { img.onload = resolve; img.onerror = () => reject(new Error('image failed to load')); img.src = src; });

  async function next() {
    enable(false);
    const r = await fetch('/api/trial?tester=' + encodeURIComponent(tester), { cache: 'no-store' });
    if (!r.ok) return fail('could not get the next pair: ' + (await r.text()));
    const t = await r.json();
    $('progress').textContent = Math.min(t.answered + 1, t.of) + ' of ' + t.of;
    if (t.done) {
      $('trial').style.display = 'none';
      $('done').style.display = 'block';
      document.body.dataset.state = 'done';
      return;
    }
    await Promise.all([load($('left'), t.left), load($('right'), t.right)]);
    current = t.trial;
    document.body.dataset.state = 'asking';
    document.body.dataset.trial = t.trial;
    enable(true);
  }

  async function answer(choice) {
    if (!current) return;
    const trial = current;
    current = null;
    enable(false);
    const r = await fetch('/api/answer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tester, trial, answer: choice }) });
    if (!r.ok) return fail('answer not recorded: ' + (await r.text()));
    await next();
  }

  $('same').onclick = () => answer('same');
  $('different').onclick = () => answer('different');
  document.addEventListener('keydown', (e) => {
    if (e.key === 's' || e.key === 'S') answer('same');
    if (e.key === 'd' || e.key === 'D') answer('different');
  });
  next().catch((e) => fail(String(e)));
})();
</script>
</body>
</html>
`;

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function say(v: Verdict): string {
  if (v.trials === 0) return 'no answers yet';
  if (v.distinguishable) return `told apart (p = ${v.pValue})`;
  if (v.trials < 10) return `too few answers (p = ${v.pValue})`;
  return `not told apart (p = ${v.pValue})`;
}

const row = (label: string, v: Verdict): string =>
  `<tr><td>${esc(label)}</td><td>${v.trials}</td><td>${v.correct}</td><td>${v.accuracy}</td><td>${v.hitRate}</td><td>${v.falseAlarmRate}</td><td>${v.neededForSignificance}</td><td>${esc(say(v))}</td></tr>`;

export function reportPage(r: Report, damaged: number): string {
  const head =
    '<tr><th></th><th>trials</th><th>right</th><th>accuracy</th><th>hit rate</th><th>false alarms</th><th>right needed for p&lt;0.05</th><th>verdict</th></tr>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Taste test results</title>
<style>body{font:15px/1.4 system-ui,sans-serif;margin:24px}table{border-collapse:collapse;margin:12px 0 24px}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}td:first-child{text-align:left}</style></head>
<body>
<h1>Taste test results</h1>
<p>${r.testers} tester(s). Guessing is right half the time; the p-value is the chance of doing at least this well by guessing.${damaged ? ` ${damaged} damaged line(s) in the answers file were skipped.` : ''} Answers given less than ${r.minViewMs} ms after the pair was shown are recorded but left out of every verdict, as faster than a person can compare two photographs${r.tooFast ? ` (${r.tooFast} so far)` : ''}.</p>
<h2>All answers</h2><table>${head}${row('all', r.overall)}</table>
<h2>By SSIM target and size</h2><table>${head}${r.byTarget.map((v) => row(`target ${v.target}, size ${v.size}`, v)).join('')}</table>
<h2>By tester</h2><table>${head}${r.byTester.map((v) => row(v.tester, v)).join('')}</table>
</body></html>
`;
}
