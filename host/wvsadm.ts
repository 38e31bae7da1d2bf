// `wvsadm`: ipvsadm 1.31 for WVS. Same commands, same output, same exit statuses; it sends
// the command line (and, for -R, standard input) to the daemon over its control socket
// ($WVS_SOCKET, default /run/wvs/wvs.sock) and prints what comes back. `-h`, `-v` and
// command lines ipvsadm itself would refuse are answered here, without the daemon.
// Deno-specific entry point; the grammar and output are host/ctl/ (runtime-agnostic).
//
//   deno task wvsadm -- -A -t 10.0.0.1:80 -s rr      (or: deno run -A host/wvsadm.ts …)
import { parseCommand } from "./ctl/cli.ts";
import { taskArgs } from "./task_args.ts";
import { Controller } from "./ctl/commands.ts";
import { IpvsError } from "./ctl/errors.ts";
import { errorText, runIpvsadm } from "./ctl/ipvsadm.ts";
import { requestOnce } from "./daemon/client.ts";
import { DEFAULT_SOCKET } from "./daemon/daemon.ts";
import type { Request as ApiRequest, Response as ApiResponse } from "./daemon/protocol.ts";
import { fileResolver } from "./daemon/resolver_deno.ts";

/** What one invocation prints and returns. */
export interface WvsadmResult {
  stdout: string;
  stderr: string;
  status: number;
}

/**
 * Runs wvsadm: local checks first, then the daemon.
 *
 * @param argv the arguments (a leading "--" from `deno task` is dropped)
 * @param readStdin reads standard input (called for -R only)
 * @param socketPath the daemon's socket
 * @param prog program name for messages (ipvsadm's argv[0])
 * @returns stdout, stderr, exit status
 */
export async function wvsadm(
  argv: string[],
  readStdin: () => Promise<string>,
  socketPath: string,
  prog = "ipvsadm",
): Promise<WvsadmResult> {
  const args = taskArgs(argv);
  const resolver = fileResolver();
  let stdin = "";
  // Beyond ipvsadm: a director's failover, which keepalived would otherwise do by hand.
  const failover = args.length === 1 && FAILOVER_OPS[args[0]];
  if (failover) return await ask(socketPath, { op: failover }, () => "");
  if (args.length > 0) {
    try {
      const c = parseCommand(args, { prog, resolver });
      // Help and version need no daemon; they do not look at the configuration.
      if (c.cmd === "help" || c.cmd === "version") {
        return runIpvsadm(args, "", new Controller(), { prog });
      }
      if (c.cmd === "restore") stdin = await readStdin();
    } catch (e) {
      if (e instanceof IpvsError) return { stdout: "", stderr: errorText(e), status: e.status };
      throw e;
    }
  }
  return await ask(
    socketPath,
    { op: "ipvsadm", argv: args, stdin, prog },
    (result) => result as WvsadmResult,
  );
}

/** WVS's own options: `--takeover` announces and serves the VIPs; `--release` gives them up. */
const FAILOVER_OPS: Record<string, "takeover" | "release"> = {
  "--takeover": "takeover",
  "--release": "release",
};

async function ask(
  socketPath: string,
  req: ApiRequest,
  ok: (result: unknown) => WvsadmResult | string,
): Promise<WvsadmResult> {
  let resp: ApiResponse;
  try {
    resp = await requestOnce(socketPath, req);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : e instanceof Deno.errors.ConnectionRefused
      ? "Connection refused"
      : e instanceof Deno.errors.PermissionDenied
      ? "Permission denied (you must be root)"
      : (e as Error).message;
    return {
      stdout: "",
      stderr: `Can't initialize ipvs: ${why}\n` +
        `Are you sure that the WVS daemon is running (deno task daemon) with its socket at ${socketPath}?\n`,
      status: 2,
    };
  }
  if (!resp.ok) return { stdout: "", stderr: `${resp.error.message}\n`, status: resp.error.status };
  const r = ok(resp.result);
  return typeof r === "string" ? { stdout: r, stderr: "", status: 0 } : r;
}

if (import.meta.main) {
  const socket = Deno.env.get("WVS_SOCKET") || DEFAULT_SOCKET;
  const readStdin = async () => await new Response(Deno.stdin.readable).text();
  const r = await wvsadm(Deno.args, readStdin, socket, Deno.env.get("WVSADM_PROG") || "ipvsadm");
  const writeAll = async (w: typeof Deno.stdout, text: string) => {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
  };
  await writeAll(Deno.stdout, r.stdout);
  await writeAll(Deno.stderr, r.stderr);
  Deno.exit(r.status);
}
