/**
 * One shape for every daemon's command: `-c, --config FILE`, flags that override single
 * config members (merged deep), `--log-level`, `--print-config` (the effective config,
 * secrets hidden), then the daemon runs until SIGTERM/SIGINT (common/service.ts).
 */
import { parseHostPort } from '@hearth/api-hook';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { LOG_LEVELS, runService, setPath, type Logger, type Service } from '../common/index.js';
import { portArg } from './args.js';

export interface ConfigFlag {
  /** Commander flags, e.g. `--brokers <list>`. */
  flags: string;
  description: string;
  /** The config member it sets, dotted: `kafka.brokers`. */
  path: string;
  /** From the flag's string to the member's value (commander's default: the string). */
  parse?: (v: string) => unknown;
  /** Earlier spellings, still read (hidden from help) and warned about once given. */
  formerly?: readonly string[];
}

export interface ConfiguredCommand<C> {
  name: string;
  description: string;
  configHelp: string;
  /** The parent's default subcommand (`hearth taste-test` runs `serve`). */
  isDefault?: boolean;
  flags?: readonly ConfigFlag[];
  load: (file: string | undefined, overrides: Record<string, unknown>) => C;
  /** What --print-config shows; default the config as is. */
  redact?: (c: C) => unknown;
  /** Options that are not config (what to do this time, e.g. --restart), added as they are. */
  options?: (cmd: Command) => void;
}

export interface DaemonCommand<C> extends ConfiguredCommand<C> {
  /** Builds the daemon from its config. */
  create: (c: C) => { service: Service; log: Logger; graceMs: number };
}

export const logLevelArg = (v: string): string => {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return v;
};

/** A commander option name (`--http-port <n>`, `--no-store-derived`) to its key on the parsed options (`httpPort`, `storeDerived`). */
const optionKey = (flags: string): string => (/--(?:no-)?([a-z0-9-]+)/.exec(flags)?.[1] ?? flags).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A `--no-x` flag is given only when it says false: commander reports true for it otherwise, which must not override the file. */
const given = (flags: string, v: unknown): boolean => (flags.startsWith('--no-') ? v === false : v !== undefined);

const logLevelFlag: ConfigFlag = { flags: '--log-level <level>', description: `log level (${LOG_LEVELS.join(', ')})`, path: 'log.level', parse: logLevelArg };

/**
 * A command whose settings are a config: `--config FILE`, each flag overriding one member
 * (merged deep; flags have no defaults of their own, the schema does), `--log-level`,
 * `--print-config`. `run` gets the effective config and the raw options.
 */
export function configuredCommand<C>(
  parent: Command,
  d: ConfiguredCommand<C>,
  run: (config: C, opts: Record<string, unknown>, args: unknown[]) => Promise<void>,
): Command {
  const cmd = parent
    .command(d.name, { isDefault: d.isDefault })
    .description(d.description)
    .option('-c, --config <file>', d.configHelp)
    .option('--print-config', 'print the effective config (defaults filled in, flags applied) and exit');
  const flags = [...(d.flags ?? []), logLevelFlag];
  const spellings: (ConfigFlag & { current?: string })[] = flags.flatMap((f) => [
    f,
    ...(f.formerly ?? []).map((old) => ({ ...f, flags: old, current: f.flags })),
  ]);
  for (const f of spellings) {
    const option = new Option(f.flags, f.description);
    if (f.parse) option.argParser(f.parse);
    if (f.current) option.hideHelp();
    cmd.addOption(option);
  }
  d.options?.(cmd);
  return cmd.action(async (...params: unknown[]) => {
    // commander passes the declared arguments, then the options, then the command.
    const args = params.slice(0, cmd.registeredArguments.length);
    const o = cmd.opts<Record<string, unknown>>();
    const overrides: Record<string, unknown> = {};
    for (const f of spellings) {
      const v = o[optionKey(f.flags)];
      if (!given(f.flags, v)) continue;
      if (f.current) process.stderr.write(`hearth ${cmd.name()}: ${f.flags.split(' ')[0]} is now ${f.current.split(' ')[0]}; the old spelling will go\n`);
      setPath(overrides, f.path, v);
    }
    const config = d.load(o.config as string | undefined, overrides);
    if (o.printConfig) {
      process.stdout.write(`${JSON.stringify(d.redact ? d.redact(config) : config, null, 2)}\n`);
      return;
    }
    await run(config, o, args);
  });
}

/** A daemon: configured as above, then run until SIGTERM/SIGINT (common/service.ts). */
export function daemonCommand<C>(parent: Command, d: DaemonCommand<C>): Command {
  return configuredCommand(parent, d, async (config) => {
    const { service, log, graceMs } = d.create(config);
    await runService(service, { name: d.name, graceMs, log });
  });
}

export const listArg = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Flags many commands share, spelled once. */
export const STORE_FLAG: ConfigFlag = {
  flags: '--store <dir-or-url>',
  description: 'the store: a directory (the dir driver) or the http:// address of a store service (volumes)',
  path: 'store',
};
export const BROKERS_FLAG: ConfigFlag = { flags: '--brokers <list>', description: 'comma-separated Kafka brokers', path: 'kafka.brokers', parse: listArg };

/** `[host:]port`: a bare port keeps the config's host. */
export const listenArg = (v: string): { host?: string; port: number } => {
  if (/^\d+$/.test(v)) return { port: portArg(v) };
  try {
    return parseHostPort(v);
  } catch {
    throw new InvalidArgumentError(`expected [host:]port or [v6]:port, got ${JSON.stringify(v)}`);
  }
};

/** Every daemon's own listener (`/metrics`, `/healthz`, `/readyz`, and what else it serves), one spelling for all. */
export const HTTP_FLAG: ConfigFlag = {
  flags: '--http <[host:]port>',
  description: "the daemon's own listener: /metrics, /healthz, /readyz and what else it serves (a bare port keeps the config's host)",
  path: 'http',
  parse: listenArg,
  formerly: ['--http-port <port>', '--metrics-listen <host:port>'],
};
