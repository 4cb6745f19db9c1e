// `npm run package`: the device tarballs, dist-packages/ser-agent-<version>-linux-{arm64,x64}.tar.gz.
// Usage: node --import tsx deploy/package/package.ts [--arch arm64|x64]... [--out DIR] [--keep-trees]
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ARCHES, type Arch, buildPackages, ROOT } from "./build.js";

const MAX_ARM64_BYTES = 40 * 1024 * 1024;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arch: { type: "string", multiple: true },
      out: { type: "string", default: resolve(ROOT, "dist-packages") },
      "keep-trees": { type: "boolean", default: false },
    },
  });
  const arches = (values.arch ?? [...ARCHES]) as Arch[];
  for (const a of arches) {
    if (!ARCHES.includes(a)) {
      console.error(`package: unknown --arch "${a}"; use ${ARCHES.join(" or ")}`);
      return 2;
    }
  }
  const t0 = performance.now();
  const built = await buildPackages({
    arches,
    outDir: resolve(values.out),
    keepTrees: values["keep-trees"],
    log: (l) => console.error(`package: ${l}`),
  });
  for (const b of built) {
    console.log(
      `${b.tarball}  ${mib(b.compressedBytes)} compressed, ${mib(b.unpackedBytes)} unpacked, ${b.files} files`,
    );
  }
  console.error(`package: took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const arm = built.find((b) => b.arch === "arm64");
  if (arm && arm.compressedBytes > MAX_ARM64_BYTES) {
    console.error(
      `package: the arm64 tarball is ${mib(arm.compressedBytes)}, over the ${mib(MAX_ARM64_BYTES)} target; see what grew (--keep-trees, then du) and prune it in deploy/package/prune.ts`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = await main().catch((err: Error) => {
  console.error(`package: ${err.message}`);
  return 1;
});
