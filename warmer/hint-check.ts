/**
 * What the warmer would do with a hint, asked before sending it: the same schema, colo
 * routing and path policy the warmer applies. `hearth hint` uses it so that a hint the
 * warmer would drop is refused at the command line with the reason, instead of being
 * sent into UDP's silence.
 */
import { WIRE_VERSION } from '@hearth/api-hook';
import { ColoRouter } from './colo-router.js';
import type { WarmerConfig } from './config.js';
import { HintSchema } from './hint.js';
import { Validator } from '../common/index.js';

// One validator per branch of the union, so a problem names its field, not "expected union value".
const [viewerBranch, coloBranch] = HintSchema.anyOf.map((branch) => new Validator(branch, 'hint'));
import { PathPolicy } from './path-policy.js';

export interface HintToCheck {
  paths: string[];
  viewer?: string;
  colo?: string;
  kid?: string;
}

/** Every reason the warmer would drop this hint or some of its paths; empty when it would push them all. */
export function hintProblems(h: HintToCheck, config: WarmerConfig): string[] {
  // As it goes on the wire, less the signature (added at send time, checked by the warmer against its keys).
  const wire = {
    v: WIRE_VERSION,
    ts: Date.now(),
    paths: h.paths,
    ...(h.viewer !== undefined ? { viewer: h.viewer } : {}),
    ...(h.colo !== undefined ? { colo: h.colo } : {}),
    ...(h.kid !== undefined ? { kid: h.kid } : {}),
  };
  const branch = (h.viewer !== undefined ? viewerBranch : coloBranch) as Validator<(typeof HintSchema.anyOf)[number]>;
  if (!branch.is(wire)) return branch.problems(wire);
  const problems: string[] = [];
  const router = new ColoRouter(config.colos, config.defaultColo);
  if (h.colo !== undefined && !router.byColoName(h.colo))
    problems.push(`colo: ${JSON.stringify(h.colo)} is not one of the warmer's colos (${router.colos.map((c) => c.name).join(', ')})`);
  if (h.viewer !== undefined) {
    const colo = router.route(h.viewer);
    if (colo === null) problems.push(`viewer: ${JSON.stringify(h.viewer)} is not an IP address`);
    else if (colo === undefined) problems.push(`viewer: ${h.viewer} is in no colo's CIDRs and the warmer has no defaultColo (dropped as no_colo)`);
  }
  const policy = new PathPolicy(config.allowPaths);
  for (const p of h.paths)
    if (!policy.allows(p)) problems.push(`path ${JSON.stringify(p)}: not an image path the warmer pushes (allowPaths ${config.allowPaths})`);
  const keyed = Object.keys(config.keys).length > 0;
  if (keyed && h.kid === undefined) problems.push('unsigned: the warmer takes only signed hints (give --key-id and a key)');
  if (h.kid !== undefined && keyed && !(h.kid in config.keys)) problems.push(`kid: ${JSON.stringify(h.kid)} is not a key the warmer knows`);
  return problems;
}
