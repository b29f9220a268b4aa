/**
 * Unguessable paths on the whole pipeline: a photo's paths carry its secrets, a guess of
 * them through a cache finds nothing, and a rotation retires the old paths everywhere.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { HEARTH_CLI } from '../../common/cli-path.js';
import { seededRandom } from '../../common/random.js';
import { DEFAULT_LADDER, imagePath, originalPath, secretImagePath, secretOriginalPath } from '../../image/index.js';
import { FIXTURES } from '../helpers/test-stack.js';
import { pipelineStack, type PipelineStack } from '../helpers/pipeline-stack.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const hearth = (...args: string[]) => run(process.execPath, [HEARTH_CLI, ...args], { maxBuffer: 16 << 20 });

describe('unguessable paths on the whole pipeline (secrets, the enumeration probe, rotation)', function () {
  this.timeout(180_000);
  let p: PipelineStack;
  let agent: Agent;
  before(async () => {
    p = await pipelineStack();
    agent = new Agent({ connections: 32 });
  });
  after(() => agent?.close());

  const sin = () => ({ node: p.topology.colos[0]!.nodes[0]!, host: 'img-sin.test' });
  const get = async (path: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> => {
    const r = await request(`http://${sin().node}${path}`, { headers: { host: sin().host }, dispatcher: agent });
    return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
  };
  async function upload(quality: number): Promise<{ id: string; paths: Record<string, string> }> {
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-secret-')), 'photo.jpg');
    writeFileSync(file, await sharp(join(FIXTURES, 'aqua.jpg')).jpeg({ quality }).toBuffer());
    return JSON.parse((await hearth('upload', '--store', p.root, '--brokers', p.topology.kafka!.listen, file)).stdout) as {
      id: string;
      paths: Record<string, string>;
    };
  }

  it('an enumeration probe: 10,000 guessed ids and secrets through a cache find no image, and a wrong secret is answered as no photo at all', async () => {
    const { id, paths } = await upload(94);
    await until('its size served', async () => ((await get(paths.z!)).status === 200 ? true : undefined), 60_000);
    const seed = Number(process.env.HEARTH_FUZZ_SEED ?? Date.now() % 1e9);
    process.stdout.write(`      probe seed ${seed}\n`);
    const rand = seededRandom(seed);
    const hex = (): string => Array.from({ length: 16 }, () => Math.floor(rand() * 16).toString(16)).join('');
    const size = (): string => DEFAULT_LADDER[Math.floor(rand() * DEFAULT_LADDER.length)]!.name;
    const near = (): string => String(BigInt(id) + BigInt(Math.floor(rand() * 2000) - 1000));
    const secretOf = (path: string): string => /_([0-9a-f]{16})_/.exec(path)![1]!;
    const guesses: string[] = [
      imagePath(id, 'z'),
      originalPath(id),
      secretOriginalPath(id, secretOf(paths.z!)),
      secretImagePath(id, secretOf(paths.original!), 'z'),
    ];
    while (guesses.length < 10_000) {
      const k = rand();
      guesses.push(
        k < 0.4
          ? secretImagePath(id, hex(), size())
          : k < 0.5
            ? secretOriginalPath(id, hex())
            : k < 0.9
              ? secretImagePath(near(), hex(), size())
              : imagePath(near(), size()),
      );
    }
    const statuses = new Map<number, number>();
    const queue = [...guesses];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let g = queue.shift(); g; g = queue.shift()) {
          const r = await get(g);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }
      }),
    );
    assert.equal(statuses.get(200) ?? 0, 0, `images found: ${JSON.stringify([...statuses])}`);
    // Only 404s (a near id may be a photo of the corpus, from before secrets: its plain paths are served, and were guessed at a tenth).
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s !== 404),
      [],
      JSON.stringify([...statuses]),
    );
    // The same answer for a right id with a wrong secret as for no photo at all.
    const shape = (r: { status: number; headers: Record<string, unknown>; body: Buffer }) => ({
      status: r.status,
      body: r.body.toString(),
      type: r.headers['content-type'],
      length: r.headers['content-length'],
    });
    assert.deepEqual(shape(await get(secretImagePath(id, hex(), 'm'))), shape(await get(secretImagePath('9999999999999999', hex(), 'm'))));
  });

  it('hearth secret rotate: the old paths answer 404 in the colo that cached them, the new ones serve the photo', async () => {
    const { id, paths } = await upload(95);
    await until('its size served', async () => ((await get(paths.z!)).status === 200 ? true : undefined), 60_000);
    assert.equal((await get(paths.z!)).headers['x-cache-status'], 'HIT');
    const rotated = JSON.parse(
      (await hearth('secret', 'rotate', id, '--by', 'the owner made it private', '--store', p.root, '--brokers', p.topology.kafka!.listen)).stdout,
    ) as { paths: string[] };
    const newZ = rotated.paths.find((x) => x.endsWith('_z.jpg'))!;
    assert.notEqual(newZ, paths.z);
    await until('the old path purged and refused', async () => ((await get(paths.z!)).status === 404 ? true : undefined), 15_000);
    const now = await get(newZ);
    assert.equal(now.status, 200);
    assert.deepEqual((JSON.parse((await hearth('secret', 'show', id, '--store', p.root)).stdout) as { paths: string[] }).paths, rotated.paths);
  });
});
