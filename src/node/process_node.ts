/**
 * libzt's one node per process: a process may run one node, and cannot start
 * another after it stopped.
 *
 * @module
 */
import { NodeStateError } from "../errors.ts";

/** The node of this process, as far as this rule needs to know it. */
interface ProcessNode {
  readonly lifecycle: string;
}

let current: ProcessNode | undefined;

/** Throws unless this process may start a node. */
export function assertNoProcessNode(): void {
  if (!current) return;
  throw current.lifecycle === "stopped"
    ? new NodeStateError(
      "NODE_NOT_RESTARTABLE",
      "This process already ran a ZeroTier node and stopped it; libzt cannot start another in the same process. Start a new process.",
    )
    : new NodeStateError(
      "NODE_ALREADY_RUNNING",
      "A ZeroTier node is already running in this process (libzt allows one); use that node.",
    );
}

/** Makes `node` the process's node. */
export function claimProcessNode(node: ProcessNode): void {
  current = node;
}

/** Gives the process's node back (a start that failed before libzt ran anything). */
export function releaseProcessNode(node: ProcessNode): void {
  if (current === node) current = undefined;
}
