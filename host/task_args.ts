// `deno task x -- --opt` hands the script its arguments with the `--` still in front (Deno 2);
// every command line entry point drops it here, so that both spellings work.

/**
 * The arguments without a leading `--`.
 *
 * @param argv the process's arguments (Deno.args, process.argv.slice(2))
 * @returns argv, minus a first `--`
 *
 * @example
 * ```ts
 * import { taskArgs } from "./task_args.ts";
 * if (taskArgs(["--", "-n"]).join() !== "-n") throw new Error();
 * ```
 */
export function taskArgs(argv: readonly string[]): string[] {
  return argv[0] === "--" ? argv.slice(1) : [...argv];
}
