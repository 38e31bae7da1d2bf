// UDP multicast sockets for the sync roles, with node:dgram, which Deno (2.x, node
// compatibility) and Node both provide, so one file serves both runtimes; Deno's own
// Deno.listenDatagram needs --unstable-net and cannot set the outgoing interface.
// Mirrors the kernel's sockets (ip_vs_sync.c make_send_sock / make_receive_sock): the master
// binds the interface's address with an ephemeral port, sets the multicast interface and
// TTL, loopback off; the backup binds group:port with SO_REUSEADDR and joins the group on
// the interface. Linux only (interface MTU from /sys).
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { ResolvedDaemon } from "./config.ts";
import type { SyncSender } from "./master.ts";
import type { IfaceInfo, SyncTransport } from "./sync.ts";

function iface(name: string): IfaceInfo | null {
  const list = os.networkInterfaces()[name];
  let mtu = 1500;
  try {
    mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, "utf8").trim()) || 1500;
  } catch {
    if (!list) return null;
  }
  const v4 = list?.find((a) => a.family === "IPv4");
  const v6 = list?.find((a) => a.family === "IPv6");
  return { addr4: v4?.address ?? null, addr6: v6?.address ?? null, mtu };
}

function openSender(d: ResolvedDaemon, log: (l: string) => void): SyncSender {
  const info = iface(d.mcastIfn);
  const local = d.family === 4 ? info?.addr4 : "::";
  if (!info || !local) throw new Error(`No usable address on ${d.mcastIfn}`);
  const sock = dgram.createSocket(d.family === 4 ? "udp4" : "udp6");
  let ready = false;
  let closed = false;
  let inFlight = 0;
  const queue: Uint8Array[] = [];
  const shut = () => {
    try {
      sock.close();
    } catch { /* already closed */ }
  };
  const out = (m: Uint8Array) => {
    inFlight++;
    sock.send(m, d.port, d.group, (e) => {
      if (e) log(`wvs sync: master send to ${d.group}:${d.port} failed: ${e.message}`);
      // Closing waits for the datagrams already handed over.
      if (--inFlight === 0 && closed) shut();
    });
  };
  sock.on("error", (e) => log(`wvs sync: master socket: ${e.message}`));
  sock.bind({ port: 0, address: local }, () => {
    try {
      sock.setMulticastInterface(d.family === 4 ? local : `::%${d.mcastIfn}`);
      sock.setMulticastTTL(d.ttl);
      sock.setMulticastLoopback(false);
    } catch (e) {
      log(`wvs sync: master socket options: ${(e as Error).message}`);
    }
    ready = true;
    for (const m of queue.splice(0)) out(m);
  });
  return {
    send(m) {
      if (closed) return;
      if (ready) out(m);
      else if (queue.length < 1024) queue.push(m);
    },
    close() {
      if (closed) return;
      closed = true;
      if (!ready || inFlight === 0) shut();
    },
  };
}

function openReceiver(
  d: ResolvedDaemon,
  onDatagram: (d: Uint8Array) => void,
  log: (l: string) => void,
): { close(): void } {
  const info = iface(d.mcastIfn);
  const local = d.family === 4 ? info?.addr4 : "::";
  if (!info || !local) throw new Error(`No usable address on ${d.mcastIfn}`);
  const sock = dgram.createSocket({ type: d.family === 4 ? "udp4" : "udp6", reuseAddr: true });
  let closed = false;
  sock.on("error", (e) => log(`wvs sync: backup socket: ${e.message}`));
  sock.on("message", (m: Uint8Array) => {
    if (!closed) onDatagram(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
  });
  sock.bind({ port: d.port, address: d.family === 4 ? d.group : "::" }, () => {
    try {
      sock.addMembership(d.group, d.family === 4 ? local : `::%${d.mcastIfn}`);
    } catch (e) {
      log(`wvs sync: cannot join ${d.group} on ${d.mcastIfn}: ${(e as Error).message}`);
    }
  });
  return {
    close() {
      if (closed) return;
      closed = true;
      try {
        sock.close();
      } catch { /* already closed */ }
    },
  };
}

/** The node:dgram transport (Deno and Node). */
export const nodeTransport: SyncTransport = { iface, openSender, openReceiver };
