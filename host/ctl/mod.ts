/**
 * The WVS control plane (`host/ctl/`): ipvsadm 1.31's grammar (cli.ts) and its execution
 * (commands.ts, ipvsadm.ts), address syntax and error texts, the ipvsadm-save rules parser,
 * the authoritative model of services and real servers, applying it to a packet engine,
 * the listings (list.ts, save.ts), the rate estimator, and the one place that says what the
 * engines do not implement yet (support.ts). Runtime-agnostic.
 *
 * @example
 * ```ts
 * import { IpvsModel, parseRules } from "./mod.ts";
 * const model = IpvsModel.fromRules(parseRules("-A -t 198.18.0.1:80 -s rr\n"));
 * if (model.services[0].label !== "198.18.0.1:80/tcp") throw new Error();
 * ```
 *
 * @module
 */
export * from "./addr.ts";
export * from "./apply.ts";
export * from "./cli.ts";
export * from "./command.ts";
export * from "./commands.ts";
export * from "./errors.ts";
export * from "./est.ts";
export * from "./format.ts";
export * from "./ipvsadm.ts";
export * from "./list.ts";
export * from "./model.ts";
export * from "./preview.ts";
export * from "./rules.ts";
export * from "./save.ts";
export * from "./support.ts";
export * from "./tables.ts";
