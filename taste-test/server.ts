/**
 * The taste test's web server: hands out blind pairs, records answers, shows results.
 *
 * Each trial is identical (the same bytes on both sides: both the resize as written,
 * or both compressed) or different (one of each), with probability ½, sides drawn at
 * random. Image URLs are one-time random tokens, so nothing in the page or its URLs says
 * which side is which, and `no-store` keeps a browser cache from hinting either.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { Logger } from '../common/index.js';
import { closeServer, createMetrics, createRegistry, listen, Validator, type Metrics } from '../common/index.js';
import { appendAnswer, readAnswers, type Choice } from './answers.js';
import { reportPage, TESTER_PAGE } from './page.js';
import type { TastePair } from './pairs.js';
import { MIN_VIEW_MS, report } from './stats.js';
import { TASTE_TEST_METRICS } from './metrics.js';

const Tester = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });
const trialQuery = new Validator(Type.Object({ tester: Tester }, { additionalProperties: false }), 'trial request');
const answerBody = new Validator(
  Type.Object(
    { tester: Tester, trial: Type.String({ minLength: 1, maxLength: 64 }), answer: Type.Union([Type.Literal('same'), Type.Literal('different')]) },
    { additionalProperties: false },
  ),
  'answer',
);

/** Pending trials kept at most: a tester who walks away must not grow memory for ever. */
const MAX_PENDING = 10_000;
const MAX_BODY = 1024;

interface Trial {
  tester: string;
  pair: TastePair;
  truth: Choice;
  images: [string, string];
  shownAt: number;
}

export interface TasteTestOptions {
  pairs: readonly TastePair[];
  answersFile: string;
  /** Trials each tester is asked (default 20: 15 right out of 20 is p < 0.05). */
  trialsPerTester?: number;
  random?: () => number;
  /** Answers faster than this are recorded but in no verdict (default MIN_VIEW_MS). */
  minViewMs?: number;
  log?: Logger;
}

export class TasteTestServer {
  private readonly server: Server;
  private readonly trials = new Map<string, Trial>();
  private readonly images = new Map<string, Buffer>();
  private readonly answered = new Map<string, number>();
  private readonly random: () => number;
  private readonly perTester: number;
  private loaded = false;
  private readonly registry = createRegistry();
  readonly metrics: Metrics<typeof TASTE_TEST_METRICS> = createMetrics(TASTE_TEST_METRICS, this.registry);
  private address = '';

  constructor(private readonly o: TasteTestOptions) {
    if (o.pairs.length === 0) throw new Error('the taste test needs at least one pair whose compressed side differs from its original');
    this.random = o.random ?? Math.random;
    this.perTester = o.trialsPerTester ?? 20;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        o.log?.error({ err }, 'taste-test request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
  }

  get url(): string {
    return this.address;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<void> {
    // Testers who come back continue where they stopped.
    const { answers } = await readAnswers(this.o.answersFile);
    for (const a of answers) this.answered.set(a.tester, (this.answered.get(a.tester) ?? 0) + 1);
    this.loaded = true;
    await listen(this.server, port, host);
    const addr = this.server.address();
    this.address = typeof addr === 'object' && addr ? `http://${host}:${addr.port}` : '';
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)] as T;
  }

  private newTrial(tester: string): { trial: string; left: string; right: string } {
    const pair = this.pick(this.o.pairs);
    const truth: Choice = this.random() < 0.5 ? 'same' : 'different';
    let sides: [Buffer, Buffer];
    if (truth === 'same') {
      const one = this.random() < 0.5 ? pair.original : pair.compressed;
      sides = [one, one];
    } else sides = this.random() < 0.5 ? [pair.original, pair.compressed] : [pair.compressed, pair.original];
    const id = randomBytes(12).toString('hex');
    const images: [string, string] = [randomBytes(12).toString('hex'), randomBytes(12).toString('hex')];
    images.forEach((t, i) => this.images.set(t, sides[i] as Buffer));
    this.trials.set(id, { tester, pair, truth, images, shownAt: Date.now() });
    while (this.trials.size > MAX_PENDING) this.forget(this.trials.keys().next().value as string);
    return { trial: id, left: `/img/${images[0]}.jpg`, right: `/img/${images[1]}.jpg` };
  }

  private forget(id: string): void {
    const t = this.trials.get(id);
    if (!t) return;
    for (const i of t.images) this.images.delete(i);
    this.trials.delete(id);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://taste-test');
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
    const route = `${req.method} ${url.pathname}`;

    if (route === 'GET /') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(TESTER_PAGE);
    } else if (req.method === 'GET' && url.pathname.startsWith('/img/')) {
      const img = this.images.get(url.pathname.slice(5).replace(/\.jpg$/, ''));
      if (!img) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such image (trials expire once answered)\n');
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': img.length, 'cache-control': 'no-store' }).end(img);
    } else if (route === 'GET /api/trial') {
      const q = Object.fromEntries(url.searchParams);
      if (!trialQuery.is(q)) return json(400, { error: 'invalid trial request', problems: trialQuery.problems(q) });
      const answered = this.answered.get(q.tester) ?? 0;
      if (answered >= this.perTester) return json(200, { done: true, answered, of: this.perTester });
      json(200, { done: false, answered, of: this.perTester, ...this.newTrial(q.tester) });
    } else if (route === 'POST /api/answer') {
      // JSON only: a form or text/plain POST is what a cross-site page can send without asking.
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return json(415, { error: 'answers are application/json' });
      const body = await readBody(req);
      if (body === undefined) return json(413, { error: `body over ${MAX_BODY} bytes` });
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        return json(400, { error: 'body is not JSON' });
      }
      if (!answerBody.is(value)) return json(400, { error: 'invalid answer', problems: answerBody.problems(value) });
      const t = this.trials.get(value.trial);
      if (!t) return json(404, { error: 'no such trial (already answered, or expired)' });
      if (t.tester !== value.tester) return json(409, { error: 'this trial was given to another tester' });
      this.forget(value.trial);
      const answer = {
        at: new Date().toISOString(),
        tester: t.tester,
        trial: value.trial,
        image: t.pair.image,
        size: t.pair.size,
        target: t.pair.target,
        quality: t.pair.quality,
        truth: t.truth,
        answer: value.answer,
        ms: Math.max(0, Date.now() - t.shownAt),
      };
      await appendAnswer(this.o.answersFile, answer);
      this.metrics.answers.labels(answer.ms >= (this.o.minViewMs ?? MIN_VIEW_MS) ? 'counted' : 'too_fast').inc();
      const answered = (this.answered.get(t.tester) ?? 0) + 1;
      this.answered.set(t.tester, answered);
      this.o.log?.debug({ tester: t.tester, image: t.pair.image }, 'answer recorded');
      json(200, { recorded: true, answered, of: this.perTester });
    } else if (route === 'GET /report' || route === 'GET /report.json') {
      const { answers, damaged } = await readAnswers(this.o.answersFile);
      const r = report(answers, { minViewMs: this.o.minViewMs ?? MIN_VIEW_MS });
      if (url.pathname === '/report.json') json(200, { ...r, damaged });
      else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(reportPage(r, damaged));
    } else if (route === 'GET /healthz') {
      json(200, { status: this.loaded ? 'ok' : 'starting', pairs: this.o.pairs.length, pending: this.trials.size });
    } else if (route === 'GET /metrics') {
      this.metrics.pending.set(this.trials.size);
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(await this.registry.metrics());
    } else if (route === 'GET /readyz') {
      json(this.loaded ? 200 : 503, { ready: this.loaded, checks: { pairs: this.loaded || 'still making pairs' } });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; the page is at /, results at /report\n');
    }
  }
}

/** The body as text, or undefined past MAX_BODY (the rest is read and dropped, so the client still gets its 413). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
