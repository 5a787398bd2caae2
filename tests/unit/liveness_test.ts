/**
 * Tier 1: the timers over peers' UNREACHABLE spells (src/node/liveness.ts).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UnreachablePeers } from "../../src/node/liveness.ts";
import type { PeerLink } from "../../src/node/state.ts";
import { peerState } from "./_helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const state = (peerId: string, link: PeerLink) => peerState(link, peerId);

describe("UnreachablePeers", () => {
  test("fires once per unreachable spell, after the timeout, naming the peer", async () => {
    const fired: [string, number][] = [];
    const watch = new UnreachablePeers(40, (id, ms) => fired.push([id, ms]));
    watch.update(state("aaaaaaaaaa", "UNREACHABLE"));
    watch.update(state("aaaaaaaaaa", "UNREACHABLE")); // a path event during the spell
    assert.equal(watch.watching, 1);
    await sleep(10);
    assert.equal(fired.length, 0, "not before the timeout");
    await sleep(80);
    assert.equal(fired.length, 1);
    assert.equal(fired[0][0], "aaaaaaaaaa");
    assert.ok(fired[0][1] >= 39, `spell length ${fired[0][1]}`);
    watch.update(state("aaaaaaaaaa", "UNREACHABLE"));
    await sleep(80);
    assert.equal(fired.length, 1, "once per spell");
    // Reached again, then a new spell: fires again.
    watch.update(state("aaaaaaaaaa", "RELAY"));
    watch.update(state("aaaaaaaaaa", "UNREACHABLE"));
    await sleep(80);
    assert.equal(fired.length, 2);
    watch.dispose();
  });

  test("a peer reached again before the timeout is left alone; dispose cancels all", async () => {
    const fired: string[] = [];
    const watch = new UnreachablePeers(40, (id) => fired.push(id));
    watch.update(state("aaaaaaaaaa", "UNREACHABLE"));
    watch.update(state("bbbbbbbbbb", "UNREACHABLE"));
    watch.update(state("cccccccccc", "DIRECT"));
    assert.equal(watch.watching, 2);
    watch.update(state("aaaaaaaaaa", "DIRECT"));
    assert.equal(watch.watching, 1);
    watch.dispose();
    assert.equal(watch.watching, 0);
    await sleep(80);
    assert.deepEqual(fired, []);
  });
});
