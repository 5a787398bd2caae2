/**
 * ZeroTier's address arithmetic, computed in TypeScript (no libzt needed):
 * ad-hoc network ids and the IPv6 addresses a node gets on a network.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";
import { hexId } from "./ffi/events.ts";
import { formatIp, parseIp } from "./ip.ts";
import {
  type NetworkIdInput,
  type NodeIdInput,
  toNetworkId,
  toNodeId,
  toPort,
} from "./validate.ts";

/**
 * The id of an IPv6-only ad-hoc network (no controller) that allows TCP and
 * UDP to ports `startPort`..`endPort`: `ff` + start + end + `000000`.
 *
 * @example
 * ```ts
 * import { adhocNetworkId } from "@rxzt/rxzt";
 * adhocNetworkId(5000, 5010); // "ff13881392000000"
 * ```
 */
export function adhocNetworkId(startPort: number, endPort: number): string {
  toPort(startPort, "startPort");
  toPort(endPort, "endPort");
  if (endPort < startPort) {
    throw new InvalidArgumentError("endPort", "must be >= startPort", endPort);
  }
  return hexId((0xffn << 56n) | (BigInt(startPort) << 40n) | (BigInt(endPort) << 24n), 16);
}

/**
 * The id of an ad-hoc network with IPv4 in `firstOctet`.0.0.0/8 (plus IPv6):
 * `ff` + octet + 10-hex hub node (multicast anchor; 0 for none) + `01`.
 *
 * @example
 * ```ts
 * import { adhocIPv4NetworkId } from "@rxzt/rxzt";
 * adhocIPv4NetworkId(10); // "ff0a000000000001"
 * ```
 */
export function adhocIPv4NetworkId(firstOctet: number, hub: NodeIdInput = 0n): string {
  if (!Number.isInteger(firstOctet) || firstOctet < 1 || firstOctet > 254) {
    throw new InvalidArgumentError("firstOctet", "must be an integer from 1 to 254", firstOctet);
  }
  const hubId = toNodeId(hub, "hub");
  return hexId((0xffn << 56n) | (BigInt(firstOctet) << 48n) | (hubId << 8n) | 1n, 16);
}

/**
 * The IPv4 address a node gets on an ad-hoc IPv4 network
 * (`firstOctet` from the network id, then the node id's low 24 bits).
 *
 * @example
 * ```ts
 * import { adhocIPv4Address } from "@rxzt/rxzt";
 * adhocIPv4Address("ff0a000000000001", "89e92ceee5"); // "10.44.238.229"
 * ```
 */
export function adhocIPv4Address(networkId: NetworkIdInput, nodeId: NodeIdInput): string {
  const net = toNetworkId(networkId);
  const node = toNodeId(nodeId);
  if (net >> 56n !== 0xffn || (net & 0xffn) !== 1n) {
    throw new InvalidArgumentError(
      "networkId",
      "must be an ad-hoc IPv4 network id (ffAA..........01)",
      networkId,
    );
  }
  return [
    Number((net >> 48n) & 0xffn),
    Number((node >> 16n) & 0xffn),
    Number((node >> 8n) & 0xffn),
    Number(node & 0xffn),
  ]
    .join(".");
}

/**
 * The 6PLANE IPv6 address of `nodeId` on `networkId` (prefix /80), the
 * address used on ad-hoc networks.
 *
 * @example
 * ```ts
 * import { sixPlaneAddress } from "@rxzt/rxzt";
 * sixPlaneAddress("ff00160016000000", "89e92ceee5");
 * ```
 */
export function sixPlaneAddress(networkId: NetworkIdInput, nodeId: NodeIdInput): string {
  let net = toNetworkId(networkId);
  const node = toNodeId(nodeId);
  net ^= net >> 32n;
  const b = new Uint8Array(16);
  b[0] = 0xfc;
  for (let i = 0; i < 4; i++) b[1 + i] = Number((net >> BigInt(24 - 8 * i)) & 0xffn);
  for (let i = 0; i < 5; i++) b[5 + i] = Number((node >> BigInt(32 - 8 * i)) & 0xffn);
  b[15] = 1;
  return formatIp(b);
}

/**
 * The RFC 4193 IPv6 address of `nodeId` on `networkId` (prefix /88).
 *
 * @example
 * ```ts
 * import { rfc4193Address } from "@rxzt/rxzt";
 * rfc4193Address("8056c2e21c000001", "89e92ceee5");
 * ```
 */
export function rfc4193Address(networkId: NetworkIdInput, nodeId: NodeIdInput): string {
  const net = toNetworkId(networkId);
  const node = toNodeId(nodeId);
  const b = new Uint8Array(16);
  b[0] = 0xfd;
  for (let i = 0; i < 8; i++) b[1 + i] = Number((net >> BigInt(56 - 8 * i)) & 0xffn);
  b[9] = 0x99;
  b[10] = 0x93;
  for (let i = 0; i < 5; i++) b[11 + i] = Number((node >> BigInt(32 - 8 * i)) & 0xffn);
  return formatIp(b);
}

/**
 * Whether `address` belongs to node `nodeId` on network `networkId` by
 * ZeroTier's address arithmetic: inside the node's 6PLANE /80, its RFC 4193
 * address, or (on an ad-hoc IPv4 network) its ad-hoc IPv4 address. Addresses
 * a controller assigns encode no identity, so they never match. IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`) is read as IPv4.
 *
 * @example
 * ```ts
 * import { adhocIPv4Address, isNodeAddress } from "@rxzt/rxzt";
 * const net = "ff0a000000000001";
 * isNodeAddress(adhocIPv4Address(net, "89e92ceee5"), net, "89e92ceee5"); // true
 * isNodeAddress("192.0.2.1", net, "89e92ceee5"); // false
 * ```
 */
export function isNodeAddress(
  address: string,
  networkId: NetworkIdInput,
  nodeId: NodeIdInput,
): boolean {
  const net = toNetworkId(networkId);
  const node = toNodeId(nodeId);
  let bytes = parseIp(address);
  if (!bytes) return false;
  if (
    bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff
  ) {
    bytes = bytes.subarray(12);
  }
  if (bytes.length === 4) {
    const adhocIPv4 = net >> 56n === 0xffn && (net & 0xffn) === 1n;
    return adhocIPv4 && formatIp(bytes) === adhocIPv4Address(net, node);
  }
  const own = (first: Uint8Array, length: number) =>
    first.subarray(0, length).every((b, i) => b === bytes![i]);
  // 6PLANE gives the node a whole /80 (10 bytes); RFC 4193 one address.
  return own(parseIp(sixPlaneAddress(net, node))!, 10) ||
    own(parseIp(rfc4193Address(net, node))!, 16);
}

/**
 * The ZeroTier node id (10 hex digits) that `address` encodes on network
 * `networkId`, the inverse of {@link sixPlaneAddress} and
 * {@link rfc4193Address}: any address inside a node's 6PLANE /80 (bytes 5–9
 * are the node id) or its RFC 4193 address (the last 5 bytes). `undefined`
 * when the address is not one of those on this network: another network's,
 * an address a controller assigned, a name, or IPv4. An ad-hoc IPv4 address
 * encodes only the low 24 bits of the 40-bit node id, which names no node
 * for sure (test a known candidate with {@link isNodeAddress} instead).
 *
 * Apps that authorise peers by ZeroTier identity use it on a connection's
 * remote address (`node.serve()` hands it to handlers as `info.peerId`).
 * The id comes from the address, so it is as trustworthy as the network's
 * guarantee that members send only from their own addresses: rely on it on
 * private networks whose members you control.
 *
 * @example
 * ```ts
 * import { nodeIdOfAddress } from "@rxzt/rxzt";
 * nodeIdOfAddress("fce9:16:89:e92c:eee5::1", "ff00160016000000"); // "89e92ceee5"
 * nodeIdOfAddress("fd80:56c2:e21c:0:199:9389:e92c:eee5", "8056c2e21c000001"); // "89e92ceee5"
 * nodeIdOfAddress("10.44.238.229", "ff0a000000000001"); // undefined
 * ```
 */
export function nodeIdOfAddress(address: string, networkId: NetworkIdInput): string | undefined {
  const net = toNetworkId(networkId);
  if (typeof address !== "string") {
    throw new InvalidArgumentError("address", "must be a string", address);
  }
  const bytes = parseIp(address);
  if (!bytes || bytes.length !== 16) return undefined;
  const nodeAt = (offset: number) => {
    let id = 0n;
    for (let i = 0; i < 5; i++) id = (id << 8n) | BigInt(bytes[offset + i]);
    return hexId(id, 10);
  };
  // 6PLANE: fc, the network id folded to 32 bits, the node id, then the node's own /80.
  if (bytes[0] === 0xfc) {
    const folded = (net ^ (net >> 32n)) & 0xffffffffn;
    for (let i = 0; i < 4; i++) {
      if (bytes[1 + i] !== Number((folded >> BigInt(24 - 8 * i)) & 0xffn)) return undefined;
    }
    return nodeAt(5);
  }
  // RFC 4193: fd, the network id, 99 93, the node id.
  if (bytes[0] === 0xfd && bytes[9] === 0x99 && bytes[10] === 0x93) {
    for (let i = 0; i < 8; i++) {
      if (bytes[1 + i] !== Number((net >> BigInt(56 - 8 * i)) & 0xffn)) return undefined;
    }
    return nodeAt(11);
  }
  return undefined;
}
