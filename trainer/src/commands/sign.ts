import { join } from "node:path";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import {
  keyIdOf,
  loadPrivateKey,
  MANIFEST_FILE,
  manifestText,
  readBundle,
  signManifest,
  writeFileAtomic,
} from "@ser-edge/agent/model";

export const signCommand: Command = {
  name: "sign",
  summary: "sign a model bundle's manifest with an Ed25519 private key",
  usage: `Usage: ser-trainer sign BUNDLE_DIR --key NAME.key

Checks that the bundle's model matches the size and sha256 in manifest.json (a bundle whose
model does not match is refused), then signs the manifest and rewrites manifest.json,
replacing any earlier signature. Prints the key id.

Options:
  --key FILE   the private key from \`ser-trainer keygen\`
`,
  options: {
    key: { type: "string" },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError("give exactly one bundle directory");
    if (typeof values.key !== "string") throw new UsageError("give --key NAME.key");
    const dir = positionals[0];
    const key = await loadPrivateKey(values.key);
    // Hash and size first: a signature would vouch for a model that is not the one exported.
    const { manifest } = await readBundle(dir, { requireSignature: false });
    const old = manifest.signature?.keyId;
    const signed = signManifest(manifest, key);
    await writeFileAtomic(join(dir, MANIFEST_FILE), manifestText(signed));
    const keyId = keyIdOf(key);
    const replaced = old ? ` (replaced the signature by ${old})` : "";
    io.out(`signed ${signed.name} ${signed.version} in ${dir} with key ${keyId}${replaced}\n`);
    return 0;
  },
};
