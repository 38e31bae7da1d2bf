// A namespace testbed that shows WVS balancing real traffic, in one command.
//
//   sudo deno task lab                     # NAT, rr, 9 curls, then tear down
//   sudo deno task lab --mode dr           # direct routing: replies bypass the director
//   sudo deno task lab --sched wrr --requests 12 --engine ts   # any ipvsadm scheduler
//   sudo deno task lab --keep              # leave it up; Ctrl-C tears it down
//
// It builds network namespaces wvs<pid>-{cl,lb,sw,rs1,rs2,rs3} (addresses from
// 198.18.0.0/15 only; the root namespace is not touched), starts a web server
// in each real-server namespace (nginx if installed, else python3 -m
// http.server) answering with its name, starts the director (main.ts) in `lb`
// with a control socket, loads the service with `wvsadm -R`, curls the VIP from
// `cl` and prints which real server answered, then `wvsadm -L -n --stats`. Everything is deleted on exit, also on error
// or Ctrl-C. Needs root, iproute2, python3 or nginx, and curl. Deno-specific.
import { taskArgs } from "../task_args.ts";
import { parseArgs } from "node:util";
import {
  haveCommand,
  Netns,
  netnsUnavailable,
  reapStaleNamespaces,
} from "../../tests/e2e/netns.ts";
import {
  buildNat,
  buildSegment,
  curlMany,
  PYTHON,
  startDirector,
  startHttpServers,
  startNginx,
  stopDirector,
} from "../../tests/e2e/topology.ts";
import type { DirectorConfig } from "./config.ts";
import { wvsadm } from "../wvsadm.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: taskArgs(Deno.args),
    options: {
      mode: { type: "string", default: "nat" },
      sched: { type: "string", default: "rr" },
      requests: { type: "string", default: "9" },
      engine: { type: "string", default: "wasm" },
      keep: { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
    },
  });
  const why = netnsUnavailable() ?? (haveCommand("curl") ? null : "curl is not installed");
  if (why) {
    console.error(`wvs lab: cannot run: ${why}`);
    return 2;
  }
  const mode = values.mode === "dr" ? "dr" : "nat";
  const useNginx = haveCommand("nginx");
  if (!useNginx && !haveCommand(PYTHON)) {
    console.error("wvs lab: cannot run: neither nginx nor python3 is installed");
    return 2;
  }
  await reapStaleNamespaces();
  const net = new Netns("lab");
  const onSignal = () => {
    console.log("\nwvs lab: interrupted, tearing down");
    net.cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    console.log(`wvs lab: building ${mode.toUpperCase()} testbed in namespaces ${net.prefix}*`);
    const topo = mode === "dr" ? await buildSegment(net, true) : await buildNat(net, true);
    const port = mode === "dr" ? 80 : 8080;
    if (useNginx) await startNginx(net, topo, port);
    else await startHttpServers(net, topo, port);
    console.log(
      `wvs lab: real servers up (${useNginx ? "nginx" : "python3 http.server"}): ` +
        topo.rs.map((r) => `${r.name} ${r.addr4}:${port}`).join(", "),
    );
    // The director runs with a control socket; the service comes from wvsadm, as an
    // operator would give it (any scheduler ipvsadm knows).
    const socket = `${await net.tempDir("wvs-lab-ctl-")}/wvs.sock`;
    const config: DirectorConfig = {
      engine: values.engine === "ts" ? "ts" : "wasm",
      ports: topo.ports,
      services: [],
      control: { socket },
    };
    const d = await startDirector(net, config, (l) => {
      if (values.verbose || l.startsWith("wvs director up") || l.startsWith("wvs director ready")) {
        console.log(`  ${l}`);
      }
    });
    const adm = (args: string[], stdin = "") => wvsadm(args, () => Promise.resolve(stdin), socket);
    const svc = `-t ${topo.vip4}:80`;
    const rules = [
      `-A ${svc} -s ${values.sched}`,
      ...topo.rs.map((r, i) =>
        `-a ${svc} -r ${r.addr4}:${port} ${mode === "dr" ? "-g" : "-m"} -w ${
          ["wrr", "wlc", "sed", "nq"].includes(values.sched) ? 3 - i : 1
        }`
      ),
    ].join("\n") + "\n";
    console.log(`wvs lab: wvsadm -R <<EOF\n${rules}EOF`);
    const loaded = await adm(["-R"], rules);
    if (loaded.status !== 0) {
      console.error(`wvs lab: ${loaded.stderr.trim()}`);
      await stopDirector(net, d);
      return 2;
    }
    const n = Number(values.requests);
    console.log(`wvs lab: ${n} × curl http://${topo.vip4}/ from ${net.ns("cl")}:`);
    const results = await curlMany(net, "cl", `http://${topo.vip4}/`, n);
    results.forEach((r, i) => {
      console.log(
        `  request ${String(i + 1).padStart(2)} → ${
          r.exit === 0 ? `${r.body} (HTTP ${r.http})` : `failed (curl exit ${r.exit})`
        }`,
      );
    });
    console.log("wvs lab: wvsadm -L -n --stats");
    console.log((await adm(["-L", "-n", "--stats"])).stdout.trimEnd().replace(/^/gm, "  "));
    if (values.keep) {
      console.log(
        `wvs lab: up. Try: sudo ip netns exec ${net.ns("cl")} curl http://${topo.vip4}/\n` +
          `               WVS_SOCKET=${socket} deno task wvsadm -- -L -n\n` +
          `         Ctrl-C to tear down`,
      );
      await new Promise(() => {});
    }
    const r = await stopDirector(net, d);
    const failed = results.filter((x) => x.exit !== 0).length;
    console.log(`wvs lab: ${n - failed}/${n} answered; tearing down`);
    return failed === 0 && r.code === 0 ? 0 : 1;
  } finally {
    await net.cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
