import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** name@version and licence of every package under a node_modules tree, nested ones included. */
export function bundledPackages(nodeModules: string): { id: string; license: string }[] {
  const out: { id: string; license: string }[] = [];
  const visit = (nm: string) => {
    if (!existsSync(nm)) return;
    for (const e of readdirSync(nm, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith(".")) continue;
      const dirs = e.name.startsWith("@")
        ? readdirSync(join(nm, e.name)).map((n) => join(nm, e.name, n))
        : [join(nm, e.name)];
      for (const d of dirs) {
        const pj = join(d, "package.json");
        if (!existsSync(pj)) continue;
        const p = JSON.parse(readFileSync(pj, "utf8")) as {
          name?: string;
          version?: string;
          license?: string | { type?: string };
        };
        const license = typeof p.license === "string" ? p.license : (p.license?.type ?? "unknown");
        out.push({ id: `${p.name}@${p.version}`, license });
        visit(join(d, "node_modules"));
      }
    }
  };
  visit(nodeModules);
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function thirdPartyNotices(nodeModules: string): string {
  const pkgs = bundledPackages(nodeModules);
  const w = Math.max(...pkgs.map((p) => p.id.length));
  return `Third-party software in node_modules/ (each package's licence text is in its directory):

${pkgs.map((p) => `${p.id.padEnd(w)}  ${p.license}`).join("\n")}
`;
}

/** The README at the top of the unpacked package. */
export function packageReadme(version: string, arch: string, installer: boolean): string {
  const install = installer
    ? `## Install as a service

\`\`\`sh
sudo ./deploy/install.sh --help      # then e.g. sudo ./deploy/install.sh --broker mqtt://broker:1883
\`\`\`

\`deploy/ser-agent.service\` is the systemd unit it installs.
`
    : `## Install as a service

This package was built without \`deploy/install.sh\`; see the project's deploy/ directory.
`;
  return `# ser-agent ${version} (linux-${arch})

The ser-edge device agent: listens to a microphone, gates on voice activity, recognises the
emotion of each utterance with the bundled model and publishes it over MQTT. Raw audio never
leaves the device. Needs Node.js >= 20 (\`node --version\`) and, for the microphone, \`arecord\`
(Debian package alsa-utils); nothing else, no build step, no network.

\`\`\`sh
./bin/ser-agent.js classify demo/03-01-05-02-02-01-19.flac   # the model on a clip: one JSON line
./bin/ser-agent.js bench                                    # CPU, latency and memory on this board
./bin/ser-agent.js run --mqtt-url mqtt://broker:1883        # the service, in the foreground
./bin/ser-agent.js --help
\`\`\`

${install}
## Contents

| path | what |
|---|---|
| \`bin/ser-agent.js\`, \`dist/\`, \`wasm/\` | the agent, compiled |
| \`node_modules/\` | its production dependencies; ONNX Runtime for linux-${arch} only |
| \`models/default/\` | the default model bundle and its model card |
| \`demo/\` | five speech clips for \`classify\` and \`bench\` |
| \`deploy/\` | systemd unit and installer (when present) |

## Licences

- The agent: MIT.
- The default model (\`models/default/\`) was trained on RAVDESS (CC BY-NC-SA 4.0): **non-commercial
  use only**; see its model card, \`models/default/README.md\`.
- The demo clips (\`demo/\`) are RAVDESS recordings, CC BY-NC-SA 4.0, attribution in
  \`demo/README.md\`; they are not part of the software's licence.
- Third-party packages: \`THIRD-PARTY-NOTICES.txt\` lists each with its licence; the licence
  texts are in their directories under \`node_modules/\`.
`;
}
