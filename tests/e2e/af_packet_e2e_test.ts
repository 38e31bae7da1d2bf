// The AF_PACKET backend on a real veth: 802.1Q tags the kernel moved into
// PACKET_AUXDATA (it untags every frame before packet taps see it,
// skb_vlan_untag in __netif_receive_skb_core) are put back into the frame, with
// recvmmsg and with the TPACKET ring, so the engine sees the frame as it was on
// the wire. The tagged frames are sent raw (this kernel may lack 8021q).
// Needs root, iproute2 and python3; skips loudly otherwise.
import assert from "node:assert/strict";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import { PYTHON, REPO } from "./topology.ts";

const skip = netnsUnavailable() ?? (haveCommand(PYTHON) ? null : "python3 is not installed");
if (skip) console.warn(`\n*** SKIPPING the AF_PACKET test: ${skip} ***\n`);

/** Three frames tagged VLAN 10 (inner type IPv4, dummy body) from b's eth0. */
const SEND = `
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for i in range(3):
    s.send(bytes.fromhex("020000000a01" "020000000a02" "8100000a0800") + bytes([i]) * 46)
`;

Deno.test({
  name: "AF_PACKET ports put back the 802.1Q tag the kernel took off, with recvmmsg and the ring",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await reapStaleNamespaces();
  const net = new Netns("afp");
  try {
    await net.addNs("a");
    await net.addNs("b");
    await net.veth("a", "eth0", "b", "eth0", "02:00:00:00:0a:01", "02:00:00:00:0a:02");
    await net.sysctl("a", "net.ipv6.conf.all.disable_ipv6", 1);
    await net.sysctl("b", "net.ipv6.conf.all.disable_ipv6", 1);
    for (const io of ["mmsg", "ring"]) {
      await t.step(`${io}: three tagged datagrams arrive with VLAN 10 in the frame`, async () => {
        const probe = net.spawn("a", [
          Deno.execPath(),
          "run",
          "-A",
          `${REPO}tests/e2e/_afp_probe.ts`,
          "eth0",
          io,
          "1500",
        ]);
        await probe.out.waitFor(/^open/, 10_000);
        await net.exec("b", [PYTHON, "-c", SEND]);
        await probe.child.status;
        await probe.out.closed();
        const r = JSON.parse(probe.out.lines.find((l) => l.startsWith("{"))!);
        const tagged = r.frames.filter((f: string) => f.slice(24, 36) === "8100000a0800");
        assert.equal(tagged.length, 3, JSON.stringify(r));
        assert.equal(r.stats.rxVlanRestored, 3);
      });
    }
  } finally {
    await net.cleanup();
  }
});
