// `Deno.test` on top of `node:test`, so that the runtime-agnostic suites, written for
// `deno test`, also run under `node --test` (issue 8). Bundled to dist/node/deno_shim.mjs and
// loaded with `node --import` before each suite (_tools/test_node.ts). It covers what those
// suites use: the three call forms of Deno.test with `ignore` and `only`, `t.step` (a
// node:test subtest), and `Deno.env.get`. Under Deno it does nothing.
import { test, type TestContext } from "node:test";
import process from "node:process";

type StepFn = (t: StepContext) => void | Promise<void>;

interface Definition {
  name: string;
  fn: StepFn;
  ignore?: boolean;
  only?: boolean;
}

/** The part of Deno.TestContext the suites use. */
interface StepContext {
  name: string;
  step(a: string | Definition | StepFn, fn?: StepFn): Promise<boolean>;
}

/** Deno.test(name, fn) | (name, options, fn) | (definition) | (options, fn) | (fn). */
function definition(a: unknown, b?: unknown, c?: unknown): Definition {
  if (typeof a === "string") {
    return typeof b === "function"
      ? { name: a, fn: b as StepFn }
      : { ...(b as object), name: a, fn: c as StepFn };
  }
  if (typeof a === "function") return { name: a.name, fn: a as StepFn };
  return typeof b === "function" ? { ...(a as Definition), fn: b as StepFn } : a as Definition;
}

function context(t: TestContext): StepContext {
  return {
    name: t.name,
    async step(a, fn) {
      const d = definition(a, fn);
      if (d.ignore) {
        await t.test(d.name, { skip: true }, () => {});
        return false;
      }
      let ok = true;
      await t.test(d.name, async (sub) => {
        try {
          await d.fn(context(sub));
        } catch (e) {
          ok = false;
          throw e;
        }
      });
      return ok;
    },
  };
}

function denoTest(a: unknown, b?: unknown, c?: unknown): void {
  const { name, fn, ignore = false, only: focused = false } = definition(a, b, c);
  // Deno.test's own focus option, carried over as node:test spells it (no suite sets it).
  const options = focused ? { skip: ignore, only: true } : { skip: ignore };
  test(name, options, (t) => fn(context(t)));
}

const g = globalThis as { Deno?: unknown };
if (g.Deno === undefined) {
  g.Deno = {
    test: denoTest,
    env: { get: (key: string): string | undefined => process.env[key] },
  };
}
