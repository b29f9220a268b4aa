/** The `hearth` CLI as built, for whatever starts Hearth's daemons as processes (the stack, tests, benchmarks). */
import { fileURLToPath } from 'node:url';

export const HEARTH_CLI = fileURLToPath(new URL('../cli/hearth.js', import.meta.url));
