// The control plane over Workers, in one process: engines stand in for the Workers, the
// link replays and reads them directly. Checks that every command reaches every engine with
// the shadow's indices, that listings sum the engines' figures, and that a Worker whose
// engine answers differently is reported.
import assert from "node:assert/strict";
import { Controller } from "../ctl/commands.ts";
import { runIpvsadm } from "../ctl/ipvsadm.ts";
import type { Engine } from "../engine/engine.ts";
import { createReferenceEngine } from "../engine/reference/reference_engine.ts";
import { SMALL_CONFIG } from "../../tests/fixtures/lab.ts";
import { readEngine, replayCalls, WorkerControl, type WorkerLink } from "./control_workers.ts";

function link(workers: Engine[]): WorkerLink {
  return {
    control: (calls) => Promise.resolve(workers.map((e) => replayCalls(e, calls))),
    readings: (svcs, dests, conns) =>
      Promise.resolve(workers.map((e) => readEngine(e, svcs, dests, conns))),
  };
}

const RULES = "-A -t 198.18.0.100:80 -s wrr\n" +
  "-a -t 198.18.0.100:80 -r 198.18.1.1:8080 -m -w 3\n" +
  "-a -t 198.18.0.100:80 -r 198.18.1.2:8080 -m -w 1\n" +
  "-A -u 198.18.0.100:53 -s sh\n" +
  "-a -u 198.18.0.100:53 -r 198.18.1.1:53 -m\n";

Deno.test("every command reaches every Worker's engine with the shadow's indices", async () => {
  const workers = [createReferenceEngine(SMALL_CONFIG), createReferenceEngine(SMALL_CONFIG)];
  const wc = new WorkerControl(createReferenceEngine(SMALL_CONFIG), link(workers));
  const ctl = new Controller({ engine: wc.engine });
  assert.equal(runIpvsadm(["-R"], RULES, ctl).status, 0);
  assert.ok(wc.pending > 0);
  await wc.flush([]);
  assert.equal(wc.pending, 0);
  for (const e of workers) {
    for (const svc of ctl.model.services) {
      assert.deepEqual(e.destList(svc.index), wc.engine.destList(svc.index));
      assert.equal(e.destList(svc.index).length, svc.dests.length);
      // sh's slot table (setSchedSlots) was replayed too.
      assert.deepEqual([...e.schedTable(svc.index)], [...wc.engine.schedTable(svc.index)]);
    }
  }
  assert.equal(
    runIpvsadm(["-d", "-t", "198.18.0.100:80", "-r", "198.18.1.2:8080"], "", ctl).status,
    0,
  );
  await wc.flush([]);
  const web = ctl.model.services[0];
  for (const e of workers) assert.deepEqual(e.destList(web.index), [web.dests[0].index]);
});

Deno.test("listings sum the Workers' figures as of the last refresh", async () => {
  const workers = [createReferenceEngine(SMALL_CONFIG), createReferenceEngine(SMALL_CONFIG)];
  const wc = new WorkerControl(createReferenceEngine(SMALL_CONFIG), link(workers));
  const ctl = new Controller({ engine: wc.engine });
  runIpvsadm(["-R"], RULES, ctl);
  await wc.flush([]);
  const svcs = ctl.model.services.map((s) => s.index);
  const dests = ctl.model.services.flatMap((s) => s.dests.map((d) => d.index));
  await wc.refresh(svcs, dests, true);
  const before = wc.engine.counters();
  assert.deepEqual(before, workers[0].counters().map((v, i) => v + workers[1].counters()[i]));
  assert.deepEqual(wc.engine.dumpConns(), []);
  assert.deepEqual(wc.engine.destCounts(dests[0]), workers[0].destCounts(dests[0]));
});

Deno.test("a Worker whose engine answers differently is reported, not ignored", async () => {
  const odd = createReferenceEngine(SMALL_CONFIG);
  const ahead = new Controller({ engine: odd });
  runIpvsadm(["-A", "-t", "198.18.0.9:80", "-s", "rr"], "", ahead);
  const wc = new WorkerControl(
    createReferenceEngine(SMALL_CONFIG),
    link([createReferenceEngine(SMALL_CONFIG), odd]),
  );
  const ctl = new Controller({ engine: wc.engine });
  runIpvsadm(["-R"], RULES, ctl);
  await assert.rejects(() => wc.flush([]), /Worker 1 diverged from the control plane: addService/);
});
