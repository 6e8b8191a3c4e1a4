/** What a command gets: its arguments and the process around it, injectable for tests. */
export interface CommandContext {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal: progress is then redrawn in place (see progress.ts). */
  stderrIsTTY?: boolean;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); start waits on it. */
  stopSignal: Promise<string>;
  homedir: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(ctx: CommandContext): Promise<number>;
}
