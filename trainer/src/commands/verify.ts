import type { KeyObject } from "node:crypto";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { loadPublicKeys, readBundle } from "@ser-edge/agent/model";

export const verifyCommand: Command = {
  name: "verify",
  summary: "check a model bundle: manifest, model sha256 and, with --key, its signature",
  usage: `Usage: ser-trainer verify BUNDLE_DIR [--key FILE_OR_DIR]...

Checks the manifest's structure and the model's size and sha256. With --key, also requires a
valid signature by one of the given public keys (a .pub file, or a directory of them). Prints
one line and exits 0 when the bundle is good, or the problem and exits 1.

Options:
  --key FILE_OR_DIR   trusted public key(s) (repeatable)
`,
  options: {
    key: { type: "string", multiple: true },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError("give exactly one bundle directory");
    const dir = positionals[0];
    const keyArgs = Array.isArray(values.key) ? values.key.map(String) : [];
    const trustedKeys: KeyObject[] = [];
    for (const k of keyArgs) trustedKeys.push(...(await loadPublicKeys(k)));
    const b = await readBundle(dir, { trustedKeys, requireSignature: trustedKeys.length > 0 });
    const m = b.manifest;
    const sig = b.signedBy
      ? `signed by ${b.signedBy}`
      : m.signature
        ? `signed by ${m.signature.keyId} (not checked: no --key)`
        : "unsigned";
    io.out(
      `OK ${dir}: ${m.name} ${m.version}, ${m.labels.length} labels, model sha256 ${m.model.sha256.slice(0, 12)}, ${sig}\n`,
    );
    return 0;
  },
};
