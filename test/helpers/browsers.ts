/** Real browsers' image `Accept` headers (those the simulation uses, and two more), and the class each must get. */
import type { FormatClass } from '@hearth/api-hook';
import { SIM_BROWSERS } from '../../simulate/simulate.js';

const accept = (name: string): string => SIM_BROWSERS.find((b) => b.name === name)!.accept;

export const BROWSER_ACCEPTS: readonly { browser: string; accept: string | undefined; format: FormatClass }[] = [
  { browser: 'Chromium', accept: accept('chromium'), format: 'avif' },
  { browser: 'Firefox', accept: accept('firefox'), format: 'avif' },
  { browser: 'Safari 17', accept: accept('safari'), format: 'avif' },
  { browser: 'Safari 15 (no AVIF)', accept: accept('safari-no-avif'), format: 'webp' },
  { browser: 'Safari 13 (neither)', accept: accept('safari-13'), format: 'jpeg' },
  { browser: 'curl', accept: '*/*', format: 'jpeg' },
  { browser: 'no Accept at all', accept: undefined, format: 'jpeg' },
];
