// The replay command as one file for Node (dist/replay.mjs, built by _tools/build_lib.ts):
// replay.ts's command line with both engines linked in, since a bundle cannot load engine
// modules by path. The WASM module is found next to the bundle (../build/wvs.wasm).
//
//   node dist/replay.mjs --rules rules.txt --in in.pcap --out out.pcap [--engine wasm|ts] ...
import process from "node:process";
import { createEngine } from "./embed.ts";
import { main } from "./replay.ts";

process.exitCode = await main(
  process.argv.slice(2),
  (engine, config) => createEngine({ ...config, engine }),
);
