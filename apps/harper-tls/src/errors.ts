import { HarperTlsError } from '@harper-tls/config';

/** A user mistake on the command line: printed as one line, exit code 1. Code ERR_CLI_USAGE. */
export class CliError extends HarperTlsError {
  constructor(message: string) {
    super('ERR_CLI_USAGE', message);
  }
}
