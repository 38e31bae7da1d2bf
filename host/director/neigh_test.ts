import assert from "node:assert/strict";
import { parseIp, parseMac } from "./inet.ts";
import { NeighTable, REFRESH_MS, RETRY_MS } from "./neigh.ts";

const A = parseIp("198.18.1.1");
const MAC1 = parseMac("02:00:00:00:01:01");
const MAC2 = parseMac("02:00:00:00:01:02");

Deno.test("NeighTable.due() asks unresolved neighbours every RETRY_MS and resolved ones every REFRESH_MS", () => {
  const t = new NeighTable();
  t.want(A, "a", 1);
  assert.equal(t.due(0).length, 1);
  assert.equal(t.due(RETRY_MS - 1).length, 0);
  assert.equal(t.due(RETRY_MS).length, 1);
  t.learn(A, "a", MAC1, 1, false);
  assert.equal(t.due(2 * RETRY_MS).length, 0);
  assert.equal(t.due(RETRY_MS + REFRESH_MS).length, 1);
});

Deno.test("NeighTable.learn() reports only changes, and creates entries only when asked to", () => {
  const t = new NeighTable();
  assert.equal(t.learn(A, "a", MAC1, 0, false), null, "a stranger's announcement is not cached");
  assert.ok(t.learn(A, "a", MAC1, 0, true));
  assert.equal(t.learn(A, "a", MAC1, 0, false), null, "same MAC and port: no change");
  assert.ok(t.learn(A, "a", MAC2, 0, false), "a new MAC replaces the old");
  assert.ok(t.learn(A, "a", MAC2, 1, false), "so does a move to another port");
});

Deno.test("NeighTable.unresolved() lists wanted entries without a MAC only", () => {
  const t = new NeighTable();
  t.want(A, "a", 0);
  t.learn(parseIp("198.18.1.9"), "b", MAC2, 0, true);
  assert.deepEqual(t.unresolved().map((e) => e.key), ["a"]);
  t.learn(A, "a", MAC1, 0, false);
  assert.deepEqual(t.unresolved(), []);
  assert.equal(t.wantedCount(), 1);
});
