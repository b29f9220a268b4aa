import type { Command } from 'commander';
import { createLogger } from '../../common/index.js';
import { ResizeWorker, loadResizeConfig } from '../../resize/index.js';
import { BROKERS_FLAG, daemonCommand, STORE_FLAG, HTTP_FLAG } from '../service-command.js';

export function registerResize(program: Command): void {
  daemonCommand(program, {
    name: 'resize',
    description: 'run a resize-tier worker: hearth.images.accepted in (uploads the identity tier let through), every ladder size and hearth.images.resized out',
    configHelp: "resize config (JSON); default: local broker, the local stack's store service",
    flags: [STORE_FLAG, BROKERS_FLAG, HTTP_FLAG],
    load: loadResizeConfig,
    create: (config) => ({ service: new ResizeWorker(config), log: createLogger('resize', config.log.level), graceMs: config.shutdownGraceMs }),
  });
}
