// The daemon's counters, rates and drops by reason in Prometheus text exposition format
// (version 0.0.4): the global C_* counters, every R_* reason, and per service and per real
// server the five IPVS counters, the estimator's rates and the connection gauges.
// Runtime-agnostic (text only; daemon.ts serves it over HTTP).
// Invariants: counters are the engine's raw, monotonic values (`-Z` moves ipvsadm's
// baseline, never these); every family has HELP and TYPE lines; label values are escaped.

import {
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONN_REUSED,
  C_CONNS,
  C_CONNS6,
  C_DROP,
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  R_COUNT,
  REASON_NAMES,
  REASON_PASS_MASK,
} from "../engine/abi.gen.ts";
import type { Stats } from "../engine/engine.ts";
import { formatIp } from "../ctl/addr.ts";
import type { Controller } from "../ctl/commands.ts";
import type { Rates } from "../ctl/est.ts";
import { FWD_NAMES } from "../ctl/format.ts";
import type { ModelService } from "../ctl/model.ts";

/** Global counters below C_REASON_BASE, with the names the JSON `counters` op uses. */
export const COUNTER_NAMES: readonly [number, string][] = [
  [C_RX, "rx"],
  [C_TX, "tx"],
  [C_DROP, "drop"],
  [C_PASS, "pass"],
  [C_CONN_NEW, "conn_new"],
  [C_CONN_EXPIRED, "conn_expired"],
  [C_CONN_REUSED, "conn_reused"],
  [C_CONNS, "conns"],
  [C_CONNS6, "conns6"],
  [C_IN_PKTS, "in_pkts"],
  [C_OUT_PKTS, "out_pkts"],
  [C_IN_BYTES, "in_bytes"],
  [C_OUT_BYTES, "out_bytes"],
];

/**
 * Reasons whose verdict is PASS (ARCHITECTURE.md, the per-frame pipeline); the rest DROP.
 * REASON_PASS_MASK (assembly/abi.ts) is the engines' own list (ftp_data, icmp_unrelated,
 * sctp_no_init besides the first four).
 */
export const PASS_REASONS: ReadonlySet<number> = new Set(
  Array.from({ length: Math.min(R_COUNT, 32) }, (_, r) => r).filter((r) =>
    ((REASON_PASS_MASK >>> r) & 1) !== 0
  ),
);

const GLOBAL: readonly [number, string, "counter" | "gauge", string][] = [
  [C_RX, "wvs_frames_received_total", "counter", "Frames received by the engine."],
  [C_TX, "wvs_frames_transmitted_total", "counter", "Frames transmitted by the engine."],
  [C_DROP, "wvs_frames_dropped_total", "counter", "Frames dropped, all reasons."],
  [C_PASS, "wvs_frames_passed_total", "counter", "Frames passed to the host, all reasons."],
  [C_CONN_NEW, "wvs_connections_created_total", "counter", "Connection entries created."],
  [
    C_CONN_EXPIRED,
    "wvs_connections_freed_total",
    "counter",
    "Connection entries freed (expired, reused, nodest).",
  ],
  [
    C_CONN_REUSED,
    "wvs_connections_reused_total",
    "counter",
    "Connection entries freed for reuse by a new SYN.",
  ],
  [C_CONNS, "wvs_connections", "gauge", "Live connection entries."],
  [C_CONNS6, "wvs_connections_ipv6", "gauge", "Live IPv6 connection entries."],
  [C_IN_PKTS, "wvs_incoming_packets_total", "counter", "Packets from clients on connections."],
  [
    C_OUT_PKTS,
    "wvs_outgoing_packets_total",
    "counter",
    "Packets from real servers on connections.",
  ],
  [C_IN_BYTES, "wvs_incoming_bytes_total", "counter", "Bytes from clients on connections."],
  [C_OUT_BYTES, "wvs_outgoing_bytes_total", "counter", "Bytes from real servers on connections."],
];

const STAT_FIELDS: readonly [keyof Stats, keyof Rates, string, string][] = [
  ["conns", "cps", "connections", "Connections scheduled"],
  ["inPkts", "inPps", "incoming_packets", "Packets from clients"],
  ["outPkts", "outPps", "outgoing_packets", "Packets from real servers"],
  ["inBytes", "inBps", "incoming_bytes", "Bytes from clients"],
  ["outBytes", "outBps", "outgoing_bytes", "Bytes from real servers"],
];

/** Escapes a label value: backslash, double quote and newline. */
function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  return "{" + Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`).join(",") + "}";
}

function svcLabels(svc: ModelService): Record<string, string> {
  const s = svc.spec;
  return {
    proto: s.fwmark
      ? "fwmark"
      : ({ 6: "tcp", 17: "udp", 132: "sctp" } as Record<number, string>)[s.protocol] ?? "?",
    family: s.af === 10 ? "ipv6" : "ipv4",
    local_address: s.fwmark ? "" : formatIp(s.addr),
    local_port: s.fwmark ? "" : String(s.port),
    local_mark: s.fwmark ? String(s.fwmark) : "",
  };
}

/**
 * The whole exposition text.
 *
 * @param ctl the controller (its engine's counters, its model, its estimators)
 * @returns Prometheus text format 0.0.4
 *
 * @example
 * ```ts
 * import { Controller } from "../ctl/commands.ts";
 * import { prometheusText } from "./metrics.ts";
 * if (!prometheusText(new Controller()).includes("# TYPE wvs_frames_received_total counter")) throw new Error();
 * ```
 */
export function prometheusText(ctl: Controller): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
  const c = ctl.engine?.counters() ?? [];
  for (const [i, name, type, help] of GLOBAL) {
    family(name, type, help);
    out.push(`${name} ${c[i] ?? 0}\n`);
  }
  for (const pass of [false, true]) {
    const name = pass ? "wvs_frames_passed_by_reason_total" : "wvs_frames_dropped_by_reason_total";
    family(
      name,
      "counter",
      pass ? "Frames passed to the host, by reason." : "Frames dropped, by reason.",
    );
    for (let r = 1; r < R_COUNT; r++) {
      if (PASS_REASONS.has(r) === pass) {
        out.push(`${name}${labels({ reason: REASON_NAMES[r] })} ${c[C_REASON_BASE + r] ?? 0}\n`);
      }
    }
  }
  const services = ctl.model.services;
  for (const [field, rate, what, help] of STAT_FIELDS) {
    family(`wvs_service_${what}_total`, "counter", `${help} by the virtual service.`);
    for (const svc of services) {
      out.push(
        `wvs_service_${what}_total${labels(svcLabels(svc))} ${ctl.svcStatsRaw(svc)[field]}\n`,
      );
    }
    family(`wvs_service_${what}_per_second`, "gauge", `${help} per second, IPVS's 2 s estimator.`);
    for (const svc of services) {
      out.push(
        `wvs_service_${what}_per_second${labels(svcLabels(svc))} ${ctl.svcRates(svc)[rate]}\n`,
      );
    }
  }
  const backends = services.flatMap((svc) =>
    svc.dests.map((d) => ({
      d,
      l: labels({
        ...svcLabels(svc),
        remote_address: formatIp(d.spec.addr),
        remote_port: String(d.spec.port),
        forward: (FWD_NAMES[d.spec.fwd] ?? "?").toLowerCase(),
      }),
    }))
  );
  for (const [field, rate, what, help] of STAT_FIELDS) {
    family(`wvs_backend_${what}_total`, "counter", `${help} by the real server.`);
    for (const { d, l } of backends) {
      out.push(`wvs_backend_${what}_total${l} ${ctl.destStatsRaw(d)[field]}\n`);
    }
    family(`wvs_backend_${what}_per_second`, "gauge", `${help} per second, IPVS's 2 s estimator.`);
    for (const { d, l } of backends) {
      out.push(`wvs_backend_${what}_per_second${l} ${ctl.destRates(d)[rate]}\n`);
    }
  }
  const gauges: [string, string, (d: (typeof backends)[number]["d"]) => number][] = [
    [
      "wvs_backend_connections_active",
      "Active connections (ActiveConn).",
      (d) => ctl.destCounts(d).activeConns,
    ],
    [
      "wvs_backend_connections_inactive",
      "Inactive connections (InActConn).",
      (d) => ctl.destCounts(d).inactConns,
    ],
    [
      "wvs_backend_connections_persistent",
      "Persistence templates (PersistConn).",
      (d) => ctl.destCounts(d).persistConns,
    ],
    ["wvs_backend_weight", "Configured weight.", (d) => d.spec.weight],
  ];
  for (const [name, help, value] of gauges) {
    family(name, "gauge", help);
    for (const { d, l } of backends) out.push(`${name}${l} ${value(d)}\n`);
  }
  return out.join("");
}
