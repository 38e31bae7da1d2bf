// What the daemon saves on every change and restores at start: the rules in `ipvsadm -S -n`
// form (in creation order, so the kernel's list order comes back exactly), and a small JSON
// for what -S does not carry: the `--set` timeouts, the real servers' thresholds and the
// running sync daemons.
// Runtime-agnostic (texts only; daemon.ts reads and writes the files).
// Invariant: restore(save(x)) rebuilds x's -S text, thresholds and timeouts exactly.

import { formatHostPort, type NameResolver } from "../ctl/addr.ts";
import type { DaemonConf } from "../ctl/command.ts";
import type { BatchItem, Controller, Timeouts } from "../ctl/commands.ts";
import { parseRestore } from "../ctl/ipvsadm.ts";
import { saveInCreationOrder, serviceToken } from "../ctl/save.ts";

/** File names inside the state directory. */
export const RULES_FILE = "ipvsadm.rules";
export const STATE_FILE = "wvs-state.json";

const RULES_HEADER =
  "# WVS rules: ipvsadm -S -n format, in creation order (restore: wvsadm -R < this file)\n";

/** The JSON beside the rules. */
export interface SavedState {
  version: 1;
  timeouts: Timeouts;
  /** Real servers with a non-zero threshold, by service token and address:port. */
  thresholds: { service: string; server: string; u: number; l: number }[];
  /** Sync daemons running when saved (`--start-daemon` settings), started again at restore. */
  daemons?: DaemonConf[];
}

function thresholdKey(service: string, server: string): string {
  return `${service}|${server}`;
}

/**
 * The two files' contents for the controller's current configuration.
 *
 * @param ctl the controller
 * @returns the rules text and the state JSON text
 */
export function stateTexts(ctl: Controller): { rules: string; state: string } {
  const services = ctl.model.services;
  const thresholds: SavedState["thresholds"] = [];
  for (const svc of services) {
    for (const d of svc.dests) {
      if (d.spec.uThreshold || d.spec.lThreshold) {
        thresholds.push({
          service: serviceToken(svc.spec),
          server: formatHostPort(d.spec.addr, d.spec.port),
          u: d.spec.uThreshold,
          l: d.spec.lThreshold,
        });
      }
    }
  }
  const daemons = ctl.syncDaemons();
  const state: SavedState = {
    version: 1,
    timeouts: ctl.timeouts(),
    thresholds,
    ...(daemons.length ? { daemons } : {}),
  };
  return {
    rules: RULES_HEADER + saveInCreationOrder(services),
    state: JSON.stringify(state, null, 1) + "\n",
  };
}

/**
 * Turns saved files back into one batch of commands (thresholds put back on their `-a`
 * lines) and the timeouts to set.
 *
 * @param rules the rules file's text
 * @param stateJson the state file's text, or null when there is none
 * @param resolver name lookups (the rules are numeric; not needed normally)
 * @returns the batch, the timeouts and the sync daemons to start
 * @throws IpvsError for a rules line that does not parse; SyntaxError for bad JSON
 */
export function restoreItems(
  rules: string,
  stateJson: string | null,
  resolver?: NameResolver,
): { items: BatchItem[]; timeouts: Timeouts | null; daemons: DaemonConf[] } {
  const state = stateJson ? JSON.parse(stateJson) as Partial<SavedState> : {};
  const byKey = new Map<string, { u: number; l: number }>();
  for (const t of state.thresholds ?? []) byKey.set(thresholdKey(t.service, t.server), t);
  const items = parseRestore(rules, { resolver });
  for (const { command: c } of items) {
    if (c.cmd !== "add-server") continue;
    const t = byKey.get(
      thresholdKey(serviceToken(c.service), formatHostPort(c.dest.addr, c.dest.port)),
    );
    if (t) {
      c.dest.uThreshold = t.u;
      c.dest.lThreshold = t.l;
    }
  }
  return { items, timeouts: state.timeouts ?? null, daemons: state.daemons ?? [] };
}
