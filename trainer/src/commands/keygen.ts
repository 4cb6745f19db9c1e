import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { keyIdOf } from "@ser-edge/agent/model";

const PRIVATE_MODE = 0o600;

/**
 * Creates a file that only its owner can read. The mode is given to open() so the key is never
 * readable by others, not even briefly, and checked afterwards (some filesystems ignore it).
 */
async function writePrivate(path: string, text: string): Promise<void> {
  const fh = await open(path, "wx", PRIVATE_MODE);
  try {
    await fh.writeFile(text);
    if (process.platform !== "win32") {
      if (((await fh.stat()).mode & 0o777) !== PRIVATE_MODE) await fh.chmod(PRIVATE_MODE);
      const mode = (await fh.stat()).mode & 0o777;
      if (mode !== PRIVATE_MODE) {
        throw new Error(
          `${path}: the file system gave mode ${mode.toString(8)}, not 600; create the key on a local disk`,
        );
      }
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(path, { force: true });
    throw err;
  }
  await fh.close();
}

export const keygenCommand: Command = {
  name: "keygen",
  summary: "create an Ed25519 key pair for signing model bundles",
  usage: `Usage: ser-trainer keygen --out NAME [--force]

Writes NAME.key, the private key (PKCS8 PEM, readable only by you: keep it secret and out of
version control), and NAME.pub, the public key (SPKI PEM) that devices trust. Prints the key id
that signed manifests carry.

Options:
  --out NAME   path of the key files without extension, e.g. keys/release
  --force      replace existing NAME.key and NAME.pub
`,
  options: {
    out: { type: "string" },
    force: { type: "boolean", default: false },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.out !== "string" || values.out === "")
      throw new UsageError("give --out NAME");
    const base = values.out.replace(/\.(key|pub)$/, "");
    const keyPath = `${base}.key`;
    const pubPath = `${base}.pub`;
    const existing = [keyPath, pubPath].filter((p) => existsSync(p));
    if (existing.length > 0) {
      if (values.force !== true) {
        throw new Error(
          `${existing.join(" and ")} already exist; choose another --out, or add --force to replace them (signatures made with the old key will no longer verify against the new one)`,
        );
      }
      // Removed rather than truncated, so the new key file gets the new mode.
      for (const p of existing) await rm(p);
    }
    await mkdir(dirname(keyPath), { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    await writePrivate(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    const pub = await open(pubPath, "wx", 0o644);
    try {
      await pub.writeFile(publicKey.export({ type: "spki", format: "pem" }).toString());
    } finally {
      await pub.close();
    }
    io.out(
      `key id ${keyIdOf(publicKey)}\n  private key: ${keyPath} (keep it secret)\n  public key:  ${pubPath} (install it on devices)\n`,
    );
    return 0;
  },
};
