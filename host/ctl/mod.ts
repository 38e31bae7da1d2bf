/**
 * The WVS control plane (`host/ctl/`): ipvsadm's address syntax and error texts, the
 * ipvsadm-save rules parser, the authoritative model of services and real servers, applying
 * it to a packet engine, listing formats and the rate estimator. Runtime-agnostic.
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
export * from "./errors.ts";
export * from "./est.ts";
export * from "./format.ts";
export * from "./model.ts";
export * from "./rules.ts";
