// What the AF_XDP backend asks about an interface, through ioctls on a
// throwaway UDP socket (an XDP socket has none): its MAC address and how many
// receive queues it has. Runtime-agnostic. (Over Sys.)
import { SOCK_CLOEXEC, type Sys } from "./sys.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;

/**
 * An ioctl about `ifname` (a 40-byte ifreq, name filled in here) through a
 * throwaway UDP socket: an XDP socket has no ioctls. True on success.
 */
function ifIoctl(sys: Sys, ifname: string, req: number, ifr: Uint8Array): boolean {
  const fd = sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifr.set(new TextEncoder().encode(ifname));
  const ok = sys.ioctl(fd, req, ifr) === 0;
  sys.close(fd);
  return ok;
}

const SIOCGIFHWADDR = 0x8927;
const SIOCETHTOOL = 0x8946;
const ETHTOOL_GCHANNELS = 0x3c;

/** The interface's MAC address (SIOCGIFHWADDR), or null. */
export function hwAddr(sys: Sys, ifname: string): Uint8Array | null {
  const ifr = new Uint8Array(40);
  return ifIoctl(sys, ifname, SIOCGIFHWADDR, ifr) ? ifr.slice(18, 24) : null;
}

/** Receive queues (ETHTOOL_GCHANNELS rx + combined); 1 when the driver does not say. */
export function rxQueues(sys: Sys, ifname: string): number {
  const ch = new Uint8Array(36); // struct ethtool_channels
  const dv = new DataView(ch.buffer);
  dv.setUint32(0, ETHTOOL_GCHANNELS, true);
  const ifr = new Uint8Array(40);
  new DataView(ifr.buffer).setBigUint64(16, sys.addressOf(ch), true);
  if (!ifIoctl(sys, ifname, SIOCETHTOOL, ifr)) return 1;
  return Math.max(1, dv.getUint32(20, true) + dv.getUint32(32, true));
}
