export { main, VERSION } from './main.js';
export type { Command, CommandContext } from './context.js';
export { CliError } from './errors.js';
