// Issue 7 end to end: curl ftp:// through a NAT service (VIP:21) to vsftpd real servers in
// namespaces, in passive mode (EPSV and PASV) and active mode (EPRT and PORT); every
// download must be byte-identical to the file on the server. The director's FTP helper
// rewrites the 227 replies to the VIP, creates the data connections' entries (NO_CPORT for
// passive, from port 20 for active) and shifts the sequence numbers. Needs root, iproute2,
// curl and vsftpd (apt-get install vsftpd); skips loudly otherwise. Rules: tests/e2e/netns.ts.
import assert from "node:assert/strict";
import type { DirectorConfig } from "../../host/director/config.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import { buildNat, e2eDataplane, e2eEngine, startDirector, stopDirector } from "./topology.ts";

const VSFTPD = "/usr/sbin/vsftpd";
const skip = netnsUnavailable() ?? (haveCommand("curl") ? null : "curl is not installed") ??
  (haveCommand(VSFTPD) ? null : "vsftpd is not installed (apt-get install vsftpd)");
if (skip) console.warn(`\n*** SKIPPING the FTP end-to-end test: ${skip} ***\n`);
else await reapStaleNamespaces();

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;
const SIZE = 3_000_000;

function vsftpdConfig(root: string, name: string): string {
  return [
    "listen=YES",
    "listen_ipv6=NO",
    "background=NO",
    "anonymous_enable=YES",
    "local_enable=NO",
    "no_anon_password=YES",
    `anon_root=${root}`,
    "write_enable=NO",
    "pasv_enable=YES",
    "pasv_min_port=50000",
    "pasv_max_port=50100",
    "port_enable=YES",
    "connect_from_port_20=YES",
    "seccomp_sandbox=NO",
    "secure_chroot_dir=/var/run/vsftpd/empty",
    `ftpd_banner=wvs ${name}`,
    "xferlog_enable=NO",
    "",
  ].join("\n");
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name:
    "FTP through NAT: curl ftp:// in passive (EPSV, PASV) and active (EPRT, PORT) mode, byte-identical",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const net = new Netns("f");
  try {
    const topo = await buildNat(net, false);
    // One file, the same on every real server (rr spreads the sessions).
    const file = new Uint8Array(SIZE);
    for (let o = 0; o < SIZE; o += 65536) crypto.getRandomValues(file.subarray(o, o + 65536));
    const want = await sha256(file);
    for (const r of topo.rs) {
      const root = await net.tempDir(`wvs-ftp-${r.name}-`);
      await Deno.chmod(root, 0o755);
      await Deno.writeFile(`${root}/file.bin`, file);
      const conf = `${root}.conf`;
      await Deno.writeTextFile(conf, vsftpdConfig(root, r.name));
      net.spawn(r.name, [VSFTPD, conf]);
    }
    // vsftpd says nothing when ready: wait until each answers on port 21.
    for (const r of topo.rs) {
      await net.exec(r.name, [
        "sh",
        "-c",
        `for i in $(seq 50); do curl -s -o /dev/null --max-time 1 ftp://${r.addr4}/ && exit 0; sleep 0.1; done; exit 1`,
      ], { timeoutMs: 15_000 });
    }
    const config: DirectorConfig = {
      engine: e2eEngine(),
      ports: topo.ports,
      batch: 64,
      ...e2eDataplane(),
      services: [{
        protocol: "tcp",
        addr: topo.vip4,
        port: 21,
        sched: "rr",
        dests: topo.rs.map((r) => ({ addr: r.addr4, port: 21, fwd: "masq" as const })),
      }],
    };
    const d = await startDirector(net, config, echo);
    let stats;
    try {
      const modes: [string, string[]][] = [
        ["passive, EPSV", []],
        ["passive, PASV", ["--disable-epsv"]],
        ["active, EPRT", ["-P", "-"]],
        ["active, PORT", ["-P", "-", "--disable-eprt"]],
      ];
      for (const [what, flags] of modes) {
        await t.step(`${what}: 3 downloads of ${SIZE} bytes arrive byte-identical`, async () => {
          const dir = await net.tempDir("wvs-ftp-cl-");
          for (let i = 0; i < 3; i++) {
            const out = `${dir}/got${i}`;
            const r = await net.exec("cl", [
              "curl",
              "-sS",
              "--max-time",
              "20",
              ...flags,
              "-o",
              out,
              "-w",
              "%{response_code} %{size_download}",
              `ftp://${topo.vip4}/file.bin`,
            ], { timeoutMs: 25_000, check: false });
            assert.equal(r.code, 0, `${what} #${i}: curl exit ${r.code}: ${r.stderr}`);
            assert.equal(r.stdout.trim(), `226 ${SIZE}`, r.stderr);
            assert.equal(await sha256(await Deno.readFile(out)), want, `${what} #${i}: content`);
          }
        });
      }
    } finally {
      stats = (await stopDirector(net, d)).stats;
    }
    console.log(
      `  FTP director: ${JSON.stringify(stats.counters)} reasons ${JSON.stringify(stats.reasons)}`,
    );
    // 12 control connections, 12 data connections (made by the helper, not scheduled).
    assert.equal(
      stats.services[0].dests.reduce((n: number, x: { conns: number }) => n + x.conns, 0),
      12,
    );
    assert.equal(stats.reasons.bad_l4_csum ?? 0, 0);
  } finally {
    await net.cleanup();
  }
});
