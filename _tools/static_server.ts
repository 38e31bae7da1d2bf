// A small static file server on loopback, for the web page (`deno task web` serves dist/web/)
// and for the browser tests (tests/everywhere_test.ts serves dist/ and build/). Read-only,
// GET and HEAD only, no directory listings; paths outside the allowed prefixes are 404.
//
//   deno task web [-- --port 8000]

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  wasm: "application/wasm",
  css: "text/css; charset=utf-8",
  png: "image/png",
  pcap: "application/vnd.tcpdump.pcap",
  txt: "text/plain; charset=utf-8",
  map: "application/json",
};

/** Options of {@linkcode serveFiles}. */
export interface ServeOptions {
  /** Directory the URL paths are relative to. */
  root: URL;
  /** URL path prefixes served from `root` ("/" for everything below it). */
  allow: string[];
  /** Extra in-memory files, by URL path. */
  files?: Map<string, Uint8Array>;
  /** What "/" redirects to, if anything. */
  index?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

/** A running server: its base URL and how to stop it. */
export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

function typeOf(path: string): string {
  return TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

/**
 * Serves files on 127.0.0.1.
 *
 * @param o what to serve
 * @returns the server
 */
export function serveFiles(o: ServeOptions): Promise<StaticServer> {
  const { promise, resolve } = Promise.withResolvers<StaticServer>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: o.port ?? 0,
    onListen: ({ port }) =>
      resolve({ url: `http://127.0.0.1:${port}`, close: () => server.shutdown() }),
  }, async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405 });
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === "/" && o.index) return Response.redirect(new URL(o.index, req.url), 302);
    const mem = o.files?.get(path);
    const headers = { "content-type": typeOf(path), "cache-control": "no-store" };
    if (mem) {
      return new Response(req.method === "HEAD" ? null : mem as Uint8Array<ArrayBuffer>, {
        headers,
      });
    }
    if (path.split("/").includes("..") || !o.allow.some((p) => path.startsWith(p))) {
      return new Response("not found\n", { status: 404 });
    }
    try {
      const body = await Deno.readFile(new URL("." + path, o.root));
      return new Response(req.method === "HEAD" ? null : body, { headers });
    } catch {
      return new Response("not found\n", { status: 404 });
    }
  });
  return promise;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 8000;
  const root = new URL("../dist/web/", import.meta.url);
  try {
    await Deno.stat(new URL("index.html", root));
  } catch {
    console.error("web: dist/web/index.html is missing; run 'deno task build:lib' first");
    Deno.exit(1);
  }
  const s = await serveFiles({ root, allow: ["/"], index: "/index.html", port });
  console.log(`WVS page: ${s.url}/ (Ctrl-C to stop)`);
}
