/**
 * Whether testers told the pairs apart better than chance.
 *
 * Each trial is "same" or "different" with probability ½, drawn after nothing the tester
 * did, so someone who cannot see a difference is right with probability exactly ½ on
 * every trial, whatever their bias towards one button. The number of right answers is
 * then Binomial(n, ½), and the one-sided exact binomial tail is the p-value of "they can
 * see it". Hit and false-alarm rates are reported too: a tester who says "different" to
 * everything has a hit rate of 1 and proves nothing, which the false-alarm rate shows.
 */
import type { Answer } from './answers.js';

export interface Verdict {
  trials: number;
  correct: number;
  accuracy: number;
  /** P(at least `correct` right out of `trials` | guessing). */
  pValue: number;
  /** "different" answers on different pairs / different pairs. */
  hitRate: number;
  /** "different" answers on identical pairs / identical pairs. */
  falseAlarmRate: number;
  /** Right answers needed out of `trials` for p < alpha. */
  neededForSignificance: number;
  distinguishable: boolean;
}

/** log(k!) for k = 0..n. */
function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) out[k] = (out[k - 1] as number) + Math.log(k);
  return out;
}

/** P(X ≥ k) for X ~ Binomial(n, ½), exact (summed in log space, so n in the thousands is fine). */
export function binomialTailHalf(n: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  const lf = logFactorials(n);
  const ln2n = n * Math.LN2;
  let p = 0;
  for (let i = k; i <= n; i++) p += Math.exp((lf[n] as number) - (lf[i] as number) - (lf[n - i] as number) - ln2n);
  return Math.min(1, p);
}

export function verdict(answers: readonly Answer[], alpha = 0.05): Verdict {
  const n = answers.length;
  const correct = answers.filter((a) => a.answer === a.truth).length;
  const diff = answers.filter((a) => a.truth === 'different');
  const same = answers.filter((a) => a.truth === 'same');
  const pValue = binomialTailHalf(n, correct);
  let needed = n + 1;
  for (let k = Math.ceil(n / 2); k <= n; k++) {
    if (binomialTailHalf(n, k) < alpha) {
      needed = k;
      break;
    }
  }
  const rate = (xs: readonly Answer[]): number => (xs.length ? +(xs.filter((a) => a.answer === 'different').length / xs.length).toFixed(3) : 0);
  return {
    trials: n,
    correct,
    accuracy: n ? +(correct / n).toFixed(3) : 0,
    pValue: +pValue.toPrecision(3),
    hitRate: rate(diff),
    falseAlarmRate: rate(same),
    neededForSignificance: needed,
    distinguishable: n > 0 && pValue < alpha,
  };
}

/**
 * Answers given faster than this after the pair was handed out are recorded but left out
 * of every verdict: comparing two photographs for a compression artefact takes a person
 * well over a second, so such an answer is a reflex, a double click or a script, and
 * it would pull the verdict towards chance or, from a script, away from it.
 */
export const MIN_VIEW_MS = 800;

export interface Report {
  /** Answers faster than `minViewMs`, recorded but in no verdict below. */
  tooFast: number;
  minViewMs: number;
  overall: Verdict;
  testers: number;
  /** By SSIM target and size: the decision the taste test exists for. */
  byTarget: ({ target: number; size: string } & Verdict)[];
  byTester: ({ tester: string } & Verdict)[];
}

export function report(all: readonly Answer[], o: { alpha?: number; minViewMs?: number } = {}): Report {
  const alpha = o.alpha ?? 0.05;
  const minViewMs = o.minViewMs ?? MIN_VIEW_MS;
  const answers = all.filter((a) => a.ms >= minViewMs);
  const group = <K extends string>(key: (a: Answer) => K): Map<K, Answer[]> => {
    const m = new Map<K, Answer[]>();
    for (const a of answers) m.set(key(a), [...(m.get(key(a)) ?? []), a]);
    return m;
  };
  const byTarget = [...group((a) => `${a.target} ${a.size}`)].map(([, xs]) => ({ target: xs[0]!.target, size: xs[0]!.size, ...verdict(xs, alpha) }));
  byTarget.sort((a, b) => b.target - a.target || a.size.localeCompare(b.size));
  const byTester = [...group((a) => a.tester)].map(([tester, xs]) => ({ tester, ...verdict(xs, alpha) }));
  return { tooFast: all.length - answers.length, minViewMs, overall: verdict(answers, alpha), testers: byTester.length, byTarget, byTester };
}
