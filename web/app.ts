/// <reference lib="dom" />
// The page's script (web/index.html): reads a dropped or chosen capture and rule set, runs
// them through a WVS engine with explainReplay (host/explain.ts), and shows the counters,
// the services and one table row per frame. Browser only; bundled to dist/web/app.mjs, next
// to wvs.wasm. The body's data-state ("idle", "running", "done", "error") lets tests wait.
import {
  createEngine,
  type EngineKind,
  explainReplay,
  type Explanation,
  formatSummary,
  type FrameVerdict,
  headersText,
  parseMac,
  type ReplayOptions,
} from "../host/mod.ts";

/** Rows drawn at most; the summary and the output pcap always cover the whole capture. */
const MAX_ROWS = 5000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let pcap: Uint8Array | null = null;
let pcapName = "";
let downloadUrl = "";

function setState(state: "idle" | "running" | "done" | "error", text: string): void {
  document.body.dataset.state = state;
  const s = $("status");
  s.textContent = text;
  s.className = state === "error" ? "error" : "";
}

/** True if `b` starts with a classic pcap magic number (either byte order, µs or ns). */
function isPcap(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const m = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1;
}

async function takeFiles(files: Iterable<File>): Promise<void> {
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    if (isPcap(bytes) || /\.(pcap|cap)$/i.test(f.name)) {
      pcap = bytes;
      pcapName = f.name;
      $("pcap-name").textContent = `${f.name}: ${bytes.length} bytes`;
    } else {
      $<HTMLTextAreaElement>("rules").value = new TextDecoder().decode(bytes);
    }
  }
  if (pcap && $<HTMLTextAreaElement>("rules").value.trim()) await run();
  else setState("idle", pcap ? "Now the rules." : "Now the capture.");
}

function macOption(id: string, what: string): Uint8Array | undefined {
  const text = $<HTMLInputElement>(id).value.trim();
  if (!text) return undefined;
  const mac = parseMac(text);
  if (!mac) throw new Error(`${what}: '${text}' is not a MAC address (like 02:00:00:00:00:01)`);
  return mac;
}

function cell(row: HTMLTableRowElement, text: string, cls = ""): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function drawRow(body: HTMLTableSectionElement, f: FrameVerdict, t0: number): void {
  const tr = body.insertRow();
  tr.dataset.verdict = f.verdict;
  cell(tr, String(f.index + 1), "mono");
  cell(tr, ((f.time - t0) / 1000).toFixed(3), "mono");
  cell(tr, headersText(f.in), "hdr");
  const badge = document.createElement("span");
  badge.className = `badge ${f.verdict}`;
  badge.textContent = f.verdict.toUpperCase();
  cell(tr, "").append(badge);
  cell(tr, f.reason, "mono");
  const c = f.conn;
  cell(
    tr,
    c
      ? `${c.dest} ${c.fwd}${c.direction === "out" ? " (reply)" : ""}${
        c.state ? " " + c.state : ""
      }`
      : "",
    "mono",
  ).className = "mono dest";
  // The transmitted headers, and under them what the engine changed.
  const out = cell(tr, "", "out");
  for (const o of f.out) {
    const div = document.createElement("div");
    div.className = "hdr";
    div.textContent = headersText(o.headers);
    out.append(div);
  }
  if (f.changes.length) {
    const div = document.createElement("div");
    div.className = "changes";
    div.textContent = f.changes.join("; ");
    out.append(div);
  }
}

function draw(ex: Explanation): void {
  $("summary").textContent = formatSummary(ex.summary);
  $("summary-box").hidden = false;
  const table = $<HTMLTableElement>("frames");
  const body = table.tBodies[0];
  body.replaceChildren();
  const t0 = ex.frames[0]?.time ?? 0;
  for (const f of ex.frames.slice(0, MAX_ROWS)) drawRow(body, f, t0);
  table.hidden = false;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(
    new Blob([ex.outPcap as Uint8Array<ArrayBuffer>], { type: "application/vnd.tcpdump.pcap" }),
  );
  const a = $<HTMLAnchorElement>("download");
  a.href = downloadUrl;
  a.hidden = false;
}

async function run(): Promise<void> {
  const rules = $<HTMLTextAreaElement>("rules").value;
  if (!pcap) return setState("error", "No capture yet: drop a .pcap file or choose one.");
  setState("running", `Replaying ${pcapName}...`);
  try {
    const options: ReplayOptions = {
      defaultGw: macOption("gw", "Default gateway MAC"),
      mac: macOption("mac", "Director MAC"),
      learn: $<HTMLInputElement>("learn").checked,
    };
    const kind = $<HTMLSelectElement>("engine").value as EngineKind;
    const started = performance.now();
    const engine = await createEngine({
      engine: kind,
      wasm: new URL("./wvs.wasm", document.baseURI),
    });
    const ex = explainReplay(engine, rules, pcap, options);
    draw(ex);
    const s = ex.summary;
    const ms = (performance.now() - started).toFixed(0);
    setState(
      "done",
      `${s.frames} frames, ${s.txFrames} transmitted (${kind} engine, ${ms} ms)` +
        (s.frames > MAX_ROWS ? `; the table shows the first ${MAX_ROWS}` : ""),
    );
  } catch (e) {
    setState("error", (e as Error).message);
  }
}

function init(): void {
  const zone = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const files = (e as DragEvent).dataTransfer?.files;
    if (files?.length) void takeFiles(files);
  });
  // A file dropped outside the box must not replace the page.
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => e.preventDefault());
  for (const id of ["pcap", "rules-file"]) {
    const input = $<HTMLInputElement>(id);
    input.addEventListener("change", () => input.files && void takeFiles(input.files));
  }
  $("run").addEventListener("click", () => void run());
  setState("idle", "Waiting for a capture and rules.");
}

init();
