// The one runtime-specific import the library's module graph holds: wasm/_module.ts reads the
// module file with `await import("node:fs/promises")`, only when it runs under Node. Declared
// here, and nothing else, so that tsc can check the library without Node's types (STYLE G23).
declare module "node:fs/promises" {
  export function readFile(path: URL): Promise<Uint8Array>;
}
