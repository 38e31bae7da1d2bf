// A sync master without a director, for the tshark capture test: an engine gets the standard
// lab (tests/fixtures/lab.ts) and some connections (IPv4 DR and NAT, UDP, IPv6), and its master
// role sends them as real multicast datagrams on an interface.
//   deno run -A tests/e2e/sync_sender.ts <ifname> <sync_version> <syncid> <maxlen>
// Prints one JSON line with the engine's entries when done. Deno-specific (spawned in a netns).
import { createReferenceEngine } from "../../host/engine/reference/reference_engine.ts";
import { FrameIo } from "../../host/engine/frames.ts";
import { nodeTransport, SyncManager } from "../../host/sync/mod.ts";
import { DIRECTOR_MAC, GW_MAC, setupLab, SMALL_CONFIG, VIP } from "../fixtures/lab.ts";
import { Frame } from "../fixtures/packet_builder.ts";

const [ifname, version, syncid, maxlen] = Deno.args;
const engine = createReferenceEngine(SMALL_CONFIG);
setupLab(engine);
let now = Date.now() * 1000;
const sync = new SyncManager({
  engine,
  transport: nodeTransport,
  clock: () => now,
  sysctls: { syncVersion: Number(version) as 0 | 1 },
  log: (l) => console.error(l),
});
sync.start({
  state: "master",
  mcastIfn: ifname,
  syncid: Number(syncid),
  syncMaxlen: Number(maxlen),
  mcastGroup: "",
  mcastPort: 0,
  mcastTtl: 0,
});
await new Promise((r) => setTimeout(r, 300)); // the socket binds asynchronously

const eth = () => Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC });
const flows = [
  ...[0, 1, 2].map((i) => (f: string) =>
    eth().ipv4({ src: `198.18.0.${10 + i}`, dst: VIP.dr4 }).tcp({
      sport: 40000 + i,
      dport: 80,
      flags: f,
    })
      .build()
  ),
  ...[0, 1].map((i) => (f: string) =>
    eth().ipv4({ src: `198.18.0.${20 + i}`, dst: VIP.nat4 }).tcp({
      sport: 41000 + i,
      dport: 80,
      flags: f,
    })
      .build()
  ),
  (_f: string) =>
    eth().ipv4({ src: "198.18.0.30", dst: VIP.nat4 }).udp({ sport: 5300, dport: 53 }).payload("q")
      .build(),
  (f: string) =>
    eth().ipv6({ src: "2001:2::40", dst: VIP.dr6 }).tcp({ sport: 42000, dport: 80, flags: f })
      .build(),
];
const io = new FrameIo(engine);
// SYN, ACK, data: each entry goes out on its third in packet; then a FIN (forced for TCP).
for (const flags of ["S", "A", "PA", "FA"]) {
  io.run(flows.map((f) => f(flags)), now);
  sync.afterBatch(now);
  now += 1000;
}
now += 1_000_000;
sync.tick(now);
await sync.close();
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify(engine.dumpConns()));
