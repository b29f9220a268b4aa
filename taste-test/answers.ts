/**
 * The taste test's answers: one JSON line per answer, appended, so a crash loses at most
 * the answer being written and results from many sessions (and many targets) add up.
 * Read back through the same schema: a damaged line is counted and skipped, never fatal.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Validator } from '../common/index.js';

const Choice = Type.Union([Type.Literal('same'), Type.Literal('different')]);

export const AnswerSchema = Type.Object(
  {
    at: Type.String({ description: 'ISO time of the answer' }),
    tester: Type.String({ minLength: 1, maxLength: 64 }),
    trial: Type.String({ minLength: 1 }),
    image: Type.String({ description: 'photograph the pair was made from' }),
    size: Type.String({ description: 'ladder size name' }),
    target: Type.Number({ description: 'SSIM target of the compressed side' }),
    quality: Type.Integer({ description: 'JPEG quality the search chose' }),
    truth: Choice,
    answer: Choice,
    ms: Type.Integer({ minimum: 0, description: 'time from showing the pair to the answer' }),
  },
  { additionalProperties: false },
);
export type Answer = Static<typeof AnswerSchema>;
export type Choice = Static<typeof Choice>;

const validator = new Validator(AnswerSchema, 'taste-test answer');

export async function appendAnswer(file: string, a: Answer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify(a)}\n`);
}

export async function readAnswers(file: string): Promise<{ answers: Answer[]; damaged: number }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { answers: [], damaged: 0 };
    throw err;
  }
  const answers: Answer[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (validator.is(v)) answers.push(v);
      else damaged++;
    } catch {
      damaged++;
    }
  }
  return { answers, damaged };
}
