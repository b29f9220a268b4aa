/** The `hearth` CLI as built, for whatever starts Hearth's daemons as processes (the stack, tests, benchmarks). */
import { fileURLToPath } from 'node:url';

export const HEARTH_CLI = fileURLToPath(new URL('../cli/hearth.js', import.meta.url));

/** Where Hearth is installed (the checkout: `dist/`, `node_modules/`, `.cache/`); paths under it move with an install prefix (`hearth deploy render --prefix`). */
export const HEARTH_HOME = fileURLToPath(new URL('../../', import.meta.url));
