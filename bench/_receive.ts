/**
 * One measured transfer into an agent's benchmark sink, the same for the
 * Deno and the Node agents: the sink process's CPU over it, and what the sink
 * counted.
 *
 * @module
 */

/** What a sender reports of one transfer. */
export interface Sent {
  bytes: number;
  seconds: number;
  cpu: number;
  direct: boolean;
}

/** An agent that runs a sink (`benchSink`), Deno's or Node's. */
interface SinkAgent {
  call<T>(cmd: string, args?: Record<string, unknown>, limitMs?: number): Promise<T>;
}

/** CPU seconds of a `cpuUsage()` reading (microseconds). */
export const cpuOf = (u: { user: number; system: number }): number => (u.user + u.system) / 1e6;

/**
 * Runs `send` (a transfer of `bytes` into `sink`'s sink) and returns the
 * sink's stats with the rate and both ends' CPU seconds; throws when the sink
 * counted another number of bytes.
 *
 * @example
 * ```ts ignore
 * const run = await receiveInto(b, () => a.call("benchSend", { hostname, port, bytes }), bytes);
 * ```
 */
export async function receiveInto<S extends { bytes: number }>(
  sink: SinkAgent,
  send: () => Promise<Sent>,
  bytes: number,
): Promise<S & { mbps: number; cpuClient: number; cpuServer: number; direct: boolean }> {
  const cpu0 = cpuOf(await sink.call<{ user: number; system: number }>("cpu"));
  const sent = await send();
  const cpu1 = cpuOf(await sink.call<{ user: number; system: number }>("cpu"));
  const [stats] = await sink.call<S[]>("benchSinkStats");
  if (stats?.bytes !== bytes) {
    throw new Error(`transfer incomplete: ${JSON.stringify({ sent, sink: stats })}`);
  }
  return {
    ...stats,
    mbps: sent.bytes / 1e6 / sent.seconds,
    cpuClient: sent.cpu,
    cpuServer: cpu1 - cpu0,
    direct: sent.direct,
  };
}
