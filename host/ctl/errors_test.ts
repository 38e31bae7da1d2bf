// Tests of the ipvsadm error table and IpvsError constructors (errors.ts).
import assert from "node:assert/strict";
import {
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ERANGE,
  ESRCH,
  EXIT_KERNEL,
  EXIT_USAGE,
  IpvsError,
  ipvsStrerror,
  kernelError,
  unsupportedError,
  usageError,
} from "./errors.ts";

Deno.test("ipvsStrerror() gives libipvs's text for each (operation, errno) pair", () => {
  const rows: [Parameters<typeof ipvsStrerror>[0], number, string][] = [
    ["add-service", EEXIST, "Service already exists"],
    ["add-service", ENOENT, "Scheduler or persistence engine not found"],
    ["edit-service", ENOENT, "Scheduler or persistence engine not found"],
    ["delete-service", ESRCH, "No such service"],
    ["add-server", ESRCH, "Service not defined"],
    ["delete-server", ESRCH, "Service not defined"],
    ["add-server", EEXIST, "Destination already exists"],
    ["delete-server", ENOENT, "No such destination"],
    ["add-server", ENOMEM, "Memory allocation problem"],
    [
      "add-server",
      EINVAL,
      "Invalid operation.  Possibly wrong module version, address not unicast, ...",
    ],
  ];
  for (const [op, errno, text] of rows) {
    assert.equal(ipvsStrerror(op, errno), text, `${op} ${errno}`);
  }
});

Deno.test("ipvsStrerror() falls back to the C library's text for errnos libipvs does not map", () => {
  assert.equal(ipvsStrerror("add-server", ERANGE), "Numerical result out of range");
  // EEXIST on delete has no libipvs row: strerror's text.
  assert.equal(ipvsStrerror("delete-service", EEXIST), "File exists");
});

Deno.test("kernelError() says what failed, on what, and keeps ipvsadm's text and exit status", () => {
  const e = kernelError("add-service", EEXIST, "198.18.0.1:80/tcp", 4);
  assert.ok(e instanceof IpvsError);
  assert.equal(e.message, "line 4: Cannot add service 198.18.0.1:80/tcp: Service already exists");
  assert.equal(e.text, "Service already exists");
  assert.equal(e.errno, EEXIST);
  assert.equal(e.status, EXIT_KERNEL);
  assert.equal(e.line, 4);
  assert.equal(e.name, "IpvsError");
});

Deno.test("usageError() carries ipvsadm's client-side text with exit status 2", () => {
  const e = usageError("illegal weight specified", 2, "-w abc");
  assert.equal(e.message, "line 2: illegal weight specified (-w abc)");
  assert.equal(e.text, "illegal weight specified");
  assert.equal(e.status, EXIT_USAGE);
  assert.equal(usageError("x").message, "x");
});

Deno.test("unsupportedError() names the feature and the line", () => {
  const e = unsupportedError("scheduler 'sh'", 3, ENOENT);
  assert.equal(e.message, "line 3: scheduler 'sh' is not supported by this engine yet");
  assert.equal(e.text, "Scheduler or persistence engine not found");
  assert.equal(unsupportedError("persistence (-p)").status, EXIT_USAGE);
});
