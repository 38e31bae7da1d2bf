// Service semantics, run against every engine: persistence templates (-p, -M, fwmark,
// port zero, FTP port 21, expiry while controlling, expire_quiescent_template, ASSURED),
// one-packet scheduling (-o), the service lookup order (spec §2.7), and what dest removal,
// weight 0 and service deletion do to existing connections, UDP included (§3.6, §8).
import assert from "node:assert/strict";
import type { ConnDump } from "../host/engine/engine.ts";
import {
  AF_INET6,
  C_CONN_NEW,
  C_CONNS,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  SCHED_RR,
  SCHED_WLC,
  SYS_EXPIRE_NODEST_CONN,
  SYS_EXPIRE_QUIESCENT_TEMPLATE,
} from "../host/engine/abi.gen.ts";
import { ENGINES } from "./fixtures/lab.ts";
import { ipBytes } from "./fixtures/packet_builder.ts";
import { editRowDest, type RowDest, schedLab, SEC, send, VIP4 } from "./fixtures/sched_lab.ts";

const ABC: RowDest[] = [
  { name: "A", weight: 1 },
  { name: "B", weight: 1 },
  { name: "C", weight: 1 },
];
const P = IP_VS_SVC_F_PERSISTENT;
const templates = (c: ConnDump[]) => c.filter((x) => (x.flags & IP_VS_CONN_F_TEMPLATE) !== 0);
const conns = (c: ConnDump[]) => c.filter((x) => (x.flags & IP_VS_CONN_F_TEMPLATE) === 0);

for (const make of ENGINES) {
  const t = (name: string, fn: () => Promise<void>) => Deno.test(`[${make.name}] ${name}`, fn);

  t("-p -M: a client network sticks to one real server; another network may not", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: P,
      timeout: 300,
      netmask: 0xffffff00,
    }, ABC);
    const net1 = ["198.18.0.1", "198.18.0.77", "198.18.0.200"].map((c, i) =>
      send(lab, { caddr: c, cport: 2000 + i })
    );
    assert.deepEqual(net1, ["A", "A", "A"]);
    assert.equal(
      send(lab, { caddr: "198.18.2.5", cport: 3000 }),
      "B",
      "rr moves on for a new network",
    );
    const tpl = templates(lab.e.dumpConns());
    assert.equal(tpl.length, 2);
    const a = tpl.find((x) => x.caddr === "198.18.0.0")!;
    assert.deepEqual(
      [a.cport, a.vaddr, a.vport, a.daddr, a.dport, a.protocol, a.state],
      [0, VIP4, 80, "198.18.1.1", 80, 6, 0],
    );
    assert.equal(
      a.flags,
      IP_VS_CONN_F_TEMPLATE | IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_INACTIVE,
    );
    assert.equal(a.timeout, 300_000);
    const counts = lab.e.destCounts(lab.dest.A);
    assert.deepEqual(
      [counts.persistConns, counts.activeConns],
      [1, 3],
      "templates count as persistConns",
    );
  });

  t("a template outlives its timeout while it controls connections (60 s retries)", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: P,
      timeout: 60,
      netmask: 0xffffffff,
      protocol: 17,
    }, ABC);
    assert.equal(send(lab, { caddr: "198.18.0.1", cport: 53, proto: 17 }), "A");
    lab.now += 100 * SEC; // template (60 s) due; the UDP entry (300 s) still controls it
    lab.e.expire(lab.now);
    const tpl = templates(lab.e.dumpConns());
    assert.equal(tpl.length, 1, "kept");
    assert.equal(tpl[0].timeout, 60_000, "retried in 60 s");
    assert.equal(send(lab, { caddr: "198.18.0.1", cport: 54, proto: 17 }), "A", "still sticky");
    // Both entries idle out (their timers run first), then the template goes too, and the
    // next connection is scheduled afresh.
    lab.now += 250 * SEC;
    lab.e.expire(lab.now);
    assert.equal(conns(lab.e.dumpConns()).length, 1, "the second entry still lives");
    assert.equal(templates(lab.e.dumpConns()).length, 1, "so its template is retried again");
    lab.now += 150 * SEC;
    lab.e.expire(lab.now);
    assert.equal(lab.e.dumpConns().length, 0, "entries first, then the idle template");
    assert.equal(send(lab, { caddr: "198.18.0.1", cport: 55, proto: 17 }), "B");
  });

  t("a template becomes ASSURED when its TCP connection is established", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: P,
      timeout: 300,
      netmask: 0xffffffff,
    }, ABC);
    send(lab, { caddr: "198.18.0.1", cport: 4000 });
    assert.equal(templates(lab.e.dumpConns())[0].state, 0);
    send(lab, { caddr: "198.18.0.1", cport: 4000, flags: "A" }); // in-only: SYN_RECV + ACK
    assert.equal(templates(lab.e.dumpConns())[0].state, IP_VS_CTPL_S_ASSURED);
  });

  t("fwmark persistence groups ports: one template (protocol IP, vaddr = mark)", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      fwmark: 7,
      flags: P,
      timeout: 300,
      netmask: 0xffffffff,
    }, ABC);
    const got = [80, 443, 8443].map((p, i) =>
      send(lab, { caddr: "198.18.0.9", cport: 1000 + i, vport: p, mark: 7 })
    );
    assert.deepEqual(got, ["A", "A", "A"]);
    assert.equal(send(lab, { caddr: "198.18.0.10", cport: 1, vport: 443, mark: 7 }), "B");
    const tpl = templates(lab.e.dumpConns()).find((x) => x.caddr === "198.18.0.9")!;
    assert.deepEqual([tpl.protocol, tpl.vaddr, tpl.vport, tpl.dport], [0, "0.0.0.7", 0, 0]);
    const c = conns(lab.e.dumpConns()).filter((x) => x.caddr === "198.18.0.9");
    assert.deepEqual(
      c.map((x) => x.dport),
      [80, 443, 8443],
      "fwmark connections keep the client's port",
    );
  });

  t("port-zero persistence: any port of the VIP, one template with vport 0", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      port: 0,
      flags: P,
      timeout: 300,
      netmask: 0xffffffff,
    }, ABC.map((d) => ({ ...d, port: 0 })));
    const got = [22, 80, 443].map((p) => send(lab, { caddr: "198.18.0.9", cport: 3000, vport: p }));
    assert.deepEqual(got, ["A", "A", "A"]);
    const tpl = templates(lab.e.dumpConns());
    assert.deepEqual(tpl.map((x) => [x.vport, x.dport]), [[0, 0]]);
  });

  t("FTP: a persistent port-21 service takes data connections (vport 0 template)", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      port: 21,
      flags: P,
      timeout: 300,
      netmask: 0xffffffff,
    }, ABC.map((d) => ({ ...d, port: 21 })));
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 3000, vport: 21 }), "A");
    assert.equal(
      send(lab, { caddr: "198.18.0.9", cport: 3001, vport: 50000 }),
      "A",
      "passive data port",
    );
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 3002, vport: 20 }), "A", "port 20");
    assert.equal(
      send(lab, { caddr: "198.18.0.9", cport: 3003, vport: 1023 }),
      "not_vip",
      "privileged",
    );
    const tpl = templates(lab.e.dumpConns());
    assert.deepEqual(tpl.map((x) => [x.vport, x.dport]), [[0, 0]]);
    const data = conns(lab.e.dumpConns()).find((x) => x.vport === 50000)!;
    assert.equal(data.dport, 50000, "data connections keep their port");
    // Not persistent: the fallback finds the service, which refuses a port that is not its own.
    const np = await schedLab(
      make,
      { sched: SCHED_RR, port: 21 },
      ABC.map((d) => ({ ...d, port: 21 })),
    );
    assert.equal(send(np, { caddr: "198.18.0.9", cport: 3001, vport: 50000 }), "-");
  });

  t("a packet from source port 20 (FTP data) is never scheduled", async () => {
    const lab = await schedLab(make, { sched: SCHED_RR }, ABC);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 20 }), "ftp_data");
  });

  t("weight 0: persistent clients keep their server unless expire_quiescent_template", async () => {
    for (const sysctl of [0, 1]) {
      const lab = await schedLab(make, {
        sched: SCHED_RR,
        flags: P,
        timeout: 300,
        netmask: 0xffffffff,
      }, ABC);
      lab.e.setSysctl(SYS_EXPIRE_QUIESCENT_TEMPLATE, sysctl);
      assert.equal(send(lab, { caddr: "198.18.0.9", cport: 1 }), "A");
      editRowDest(lab, "A", { weight: 0 });
      assert.equal(send(lab, { caddr: "198.18.0.9", cport: 2 }), sysctl ? "B" : "A");
      if (sysctl) {
        const bad = templates(lab.e.dumpConns()).find((x) => x.daddr === "198.18.1.1")!;
        assert.deepEqual([bad.vport, bad.dport], [0xffff, 0xffff], "invalidated, left to expire");
      }
    }
  });

  t("a removed real server: its template is invalidated, the client moves", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: P,
      timeout: 300,
      netmask: 0xffffffff,
    }, ABC);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 1 }), "A");
    assert.equal(lab.e.delDest(lab.dest.A), 0);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 1, flags: "A" }), "dest_unavailable");
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 2 }), "B");
  });

  t("-o: each UDP datagram is scheduled on its own and leaves no entry", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: IP_VS_SVC_F_ONEPACKET,
      protocol: 17,
      port: 53,
    }, ABC.map((d) => ({ ...d, port: 53 })));
    const got = [1, 2, 3, 4].map(() =>
      send(lab, { caddr: "198.18.0.9", cport: 5353, vport: 53, proto: 17 })
    );
    assert.deepEqual(got, ["A", "B", "C", "A"]);
    const c = lab.e.counters();
    assert.deepEqual([c[C_CONN_NEW], c[C_CONNS]], [4, 0]);
    assert.equal(lab.e.destStats(lab.dest.A).conns, 2);
    // TCP on a -o service is not one-packet.
    const tcp = await schedLab(make, { sched: SCHED_RR, flags: IP_VS_SVC_F_ONEPACKET }, ABC);
    send(tcp, { caddr: "198.18.0.9", cport: 1 });
    assert.equal(tcp.e.counters()[C_CONNS], 1);
  });

  t("-o with persistence: the template stays and keeps the flow on one server", async () => {
    const lab = await schedLab(make, {
      sched: SCHED_RR,
      flags: IP_VS_SVC_F_ONEPACKET | P,
      timeout: 60,
      netmask: 0xffffffff,
      protocol: 17,
      port: 53,
    }, ABC.map((d) => ({ ...d, port: 53 })));
    const got = [1, 2, 3].map(() =>
      send(lab, { caddr: "198.18.0.9", cport: 5353, vport: 53, proto: 17 })
    );
    assert.deepEqual(got, ["A", "A", "A"]);
    const all = lab.e.dumpConns();
    assert.equal(all.length, 1);
    assert.equal(templates(all).length, 1);
  });

  t(
    "lookup order: a marked packet without a fwmark service falls back to the exact service",
    async () => {
      const lab = await schedLab(make, { sched: SCHED_RR }, ABC);
      assert.equal(send(lab, { caddr: "198.18.0.9", cport: 1, mark: 99 }), "A");
      const pz = await schedLab(make, {
        sched: SCHED_RR,
        port: 0,
        flags: P,
        timeout: 60,
        netmask: 0xffffffff,
      }, ABC.map((d) => ({ ...d, port: 0 })));
      assert.equal(
        send(pz, { caddr: "198.18.0.9", cport: 1, vport: 8080, proto: 17 }),
        "not_vip",
        "a UDP packet has no port-zero TCP service",
      );
      assert.equal(send(pz, { caddr: "198.18.0.9", cport: 1, vport: 8080 }), "A");
    },
  );

  t("a removed real server strands UDP flows unless expire_nodest_conn (§3.6)", async () => {
    for (const sysctl of [0, 1]) {
      const lab = await schedLab(
        make,
        { sched: SCHED_RR, protocol: 17, port: 53 },
        ABC.map((d) => ({ ...d, port: 53 })),
      );
      lab.e.setSysctl(SYS_EXPIRE_NODEST_CONN, sysctl);
      const flow = { caddr: "198.18.0.9", cport: 5353, vport: 53, proto: 17 as const };
      assert.equal(send(lab, flow), "A");
      assert.equal(send(lab, { ...flow, cport: 5354 }), "B");
      assert.equal(lab.e.delDest(lab.dest.A), 0);
      if (sysctl) {
        assert.equal(conns(lab.e.dumpConns()).length, 1, "flushed at once; B's entry stays");
        assert.equal(send(lab, flow), "C", "the flow is rescheduled");
      } else {
        assert.equal(send(lab, flow), "dest_unavailable");
        lab.now += 301 * SEC; // dropped packets do not refresh the entry: it idles out
        assert.equal(send(lab, flow), "C");
      }
    }
  });

  t("weight 0 with expire_nodest_conn: a SYN on the old entry is rescheduled", async () => {
    const lab = await schedLab(make, { sched: SCHED_WLC }, [{ name: "A", weight: 1 }, {
      name: "B",
      weight: 1,
    }]);
    lab.e.setSysctl(SYS_EXPIRE_NODEST_CONN, 1);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 7 }), "A");
    editRowDest(lab, "A", { weight: 0 });
    assert.equal(
      send(lab, { caddr: "198.18.0.9", cport: 7, flags: "A" }),
      "A",
      "existing traffic continues",
    );
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 7 }), "B");
  });

  t(
    "a deleted service: entries stay, their packets are dropped; expire_nodest_conn flushes",
    async () => {
      for (const sysctl of [0, 1]) {
        const lab = await schedLab(make, {
          sched: SCHED_RR,
          flags: P,
          timeout: 300,
          netmask: 0xffffffff,
        }, ABC);
        lab.e.setSysctl(SYS_EXPIRE_NODEST_CONN, sysctl);
        assert.equal(send(lab, { caddr: "198.18.0.9", cport: 7 }), "A");
        assert.equal(lab.e.delService(lab.svc), 0);
        assert.equal(lab.e.dumpConns().length, sysctl ? 0 : 2);
        assert.equal(
          send(lab, { caddr: "198.18.0.9", cport: 7, flags: "A" }),
          sysctl ? "not_vip" : "dest_unavailable",
        );
      }
    },
  );

  t("IPv6 persistence masks the client with the prefix length", async () => {
    const lab = await schedLab(make, {
      af: AF_INET6,
      sched: SCHED_RR,
      flags: P,
      timeout: 300,
      netmask: 64,
    }, ABC);
    const got = ["2001:2::1", "2001:2::ffff:1", "2001:2:0:7::1"].map((c) =>
      send(lab, { caddr: c, cport: 1 })
    );
    assert.deepEqual(got, ["A", "A", "B"]);
    assert.deepEqual(templates(lab.e.dumpConns()).map((x) => x.caddr).sort(), [
      "2001:2:0:7::",
      "2001:2::",
    ]);
  });

  t("editService changes persistence in place; new templates use the new timeout", async () => {
    const lab = await schedLab(make, { sched: SCHED_RR }, ABC);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 1 }), "A");
    const spec = {
      af: 2 as const,
      protocol: 6,
      addr: ipBytes(VIP4),
      port: 80,
      fwmark: 0,
      sched: SCHED_RR,
      flags: P,
      timeout: 30,
      netmask: 0xffffffff,
    };
    assert.equal(lab.e.editService(lab.svc, spec), lab.svc);
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 2 }), "B");
    assert.equal(send(lab, { caddr: "198.18.0.9", cport: 3 }), "B");
    assert.equal(templates(lab.e.dumpConns())[0].timeout, 30_000);
  });
}
