/**
 * Range queries against Prometheus's HTTP API, answered as data or as a message a
 * panel can show: a PromQL error, a timeout, Prometheus down. Never throws.
 */

export interface RangeSeries {
  labels: Record<string, string>;
  /** [unix seconds, value]; Prometheus sends values as strings (NaN, +Inf included). */
  values: [number, number][];
}

export type RangeResult = { ok: true; series: RangeSeries[] } | { ok: false; kind: 'query_error' | 'unreachable'; message: string };

interface PromAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: { metric: Record<string, string>; values: [number, string][] }[] };
}

export async function queryRange(base: string, expr: string, start: number, end: number, step: number, timeoutMs: number): Promise<RangeResult> {
  const url = new URL('/api/v1/query_range', base);
  const body = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { ok: false, kind: 'unreachable', message: `Prometheus at ${base} is unreachable (${why})` };
  }
  let answer: PromAnswer;
  try {
    answer = (await res.json()) as PromAnswer;
  } catch {
    return { ok: false, kind: 'unreachable', message: `Prometheus at ${base} answered ${res.status} with something that is not its API's JSON` };
  }
  if (answer.status !== 'success')
    return { ok: false, kind: 'query_error', message: `${answer.errorType ?? 'error'}: ${answer.error ?? `HTTP ${res.status}`}` };
  if (answer.data?.resultType !== 'matrix' || !Array.isArray(answer.data.result))
    return { ok: false, kind: 'query_error', message: `expected a range vector, got ${answer.data?.resultType ?? 'nothing'}` };
  return { ok: true, series: answer.data.result.map((r) => ({ labels: r.metric, values: r.values.map(([t, v]) => [t, Number(v)] as [number, number]) })) };
}
