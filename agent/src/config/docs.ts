import { CONFIG_FILE_ENV, describeFormat, SCHEMA, SETTINGS, type Setting } from "./schema.js";

/**
 * The configuration reference (config/README.md) and example file
 * (config/ser-agent.example.json), both generated from the schema so that they cannot drift:
 * test/config/docs.test.ts compares the committed files with these functions' output.
 * Regenerate with `node --conditions=source --import tsx agent/src/config/write-docs.ts`.
 */

export const REGENERATE_COMMAND =
  "node --conditions=source --import tsx agent/src/config/write-docs.ts";

/** Every setting at its default, as a configuration file (host-independent: automatic = ""). */
export function exampleConfig(): string {
  const build = (node: object): unknown =>
    "doc" in node && "default" in node
      ? node.default
      : Object.fromEntries(Object.entries(node).map(([k, v]) => [k, build(v as object)]));
  return `${JSON.stringify(build(SCHEMA), null, 2)}\n`;
}

/** Table cell text: "|" would end the cell and "<name>" would vanish as an HTML tag. */
const cell = (s: string) =>
  s.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, " ");

function defaultCell(s: Setting): string {
  const d = s.spec.default;
  if (d === "" && s.spec.defaultText) return `empty: ${s.spec.defaultText}`;
  if (d === "") return "empty";
  return `\`${JSON.stringify(d)}\``;
}

function row(s: Setting): string {
  const names = [`\`${s.env}\``, s.arg ? `\`--${s.arg}\`` : "no argument (secret)"].join("<br>");
  const doc = s.spec.sensitive ? `${s.spec.doc} Secret: printed as \`***\`.` : s.spec.doc;
  return `| \`${s.key}\` | ${cell(defaultCell(s))} | ${cell(describeFormat(s.spec))} | ${names} | ${cell(doc)} |`;
}

/** config/README.md. */
export function configReadme(): string {
  const groups = new Map<string, Setting[]>();
  for (const s of SETTINGS) {
    const group = s.key.split(".")[0];
    groups.set(group, [...(groups.get(group) ?? []), s]);
  }
  const tables = [...groups.entries()].map(
    ([group, settings]) => `### ${group}

| key | default | format | environment / argument | description |
|---|---|---|---|---|
${settings.map(row).join("\n")}
`,
  );
  return `# config/

<!-- Generated from agent/src/config/schema.ts: edit the schema, then run
     ${REGENERATE_COMMAND}
     (test/config/docs.test.ts fails while this file and the schema differ). -->

The agent's configuration. \`ser-agent\` takes each setting from the first of these that sets it:

1. command-line arguments, \`--name VALUE\` (the names are in the tables below);
2. environment variables \`SER_*\` (under systemd: \`Environment=\` or \`EnvironmentFile=\`);
3. a JSON file: \`--config FILE\`, else the file named by \`$${CONFIG_FILE_ENV}\`;
   [\`ser-agent.example.json\`](ser-agent.example.json) holds every setting at its default;
4. the defaults below.

A key \`mqtt.baseTopic\` is \`{"mqtt": {"baseTopic": "..."}}\` in the file, \`SER_MQTT_BASE_TOPIC\` in
the environment and \`--mqtt-base-topic\` on the command line.

Validation is strict. An unknown key in the file (a typo), a value outside its format or a
contradiction (\`input.source\` "file" without \`input.file\`, \`mqtt.cert\` without \`mqtt.key\`,
windows that overlap by more than their length) stops the agent before it starts anything, with
exit status 78 (EX_CONFIG, shown by systemd as \`status=78/CONFIG\`) and a message naming the
setting, the value, where it came from, what is expected and how to fix it. Every problem is
listed at once. A \`SER_*\` variable that is not a setting gets a warning.

\`\`\`sh
ser-agent config --check --config /etc/ser-edge/config.json   # exit 0, or 78 and the problems
ser-agent config --print --config /etc/ser-edge/config.json   # effective settings as JSON, secrets as "***"
ser-agent config --example > /etc/ser-edge/config.json        # a file to start from
ser-agent config --docs                                        # this reference
\`\`\`

Conventions:

- **Empty means automatic** for \`device.id\`, \`model.dir\`, \`mqtt.clientId\` and
  \`mqtt.outbox.dir\`; \`--print\` shows what they resolved to.
- **Booleans** in the environment or on the command line: \`true\`/\`false\` (also \`1\`/\`0\`,
  \`yes\`/\`no\`, \`on\`/\`off\`). Numbers must be written out in full: \`12abc\` is an error, not 12.
- **Paths** are checked when set (they must exist and be readable by the user running the check);
  relative paths are relative to the working directory, so a service should use absolute ones.
- **Secrets**: \`mqtt.password\` has no command-line argument (every user can read a command line
  with \`ps\`); set it in the file (mode 0600, owned by the service user) or in the environment.
  \`--print\` and error messages never show it; a password inside \`mqtt.url\` is masked too.

## Settings

${tables.join("\n")}
## Under systemd

What the deploy unit needs for these settings:

- \`Type=notify\` and **\`NotifyAccess=all\`**: the agent reports READY=1, STATUS=..., WATCHDOG=1 and
  STOPPING=1 through \`systemd-notify\` (Node cannot send the datagram itself), and systemd sees that
  message come from the \`systemd-notify\` child, not from the main process, unless the service runs
  as root.
- \`WatchdogSec=30s\` (or similar) to use \`service.watchdog\`: the agent pings at half that period
  while its pipeline is healthy, and systemd restarts it when the pings stop.
- \`StateDirectory=ser-edge\`: gives \`$STATE_DIRECTORY\`, where \`mqtt.outbox.dir\` goes by default.
- \`RestartPreventExitStatus=78\`: a wrong configuration will not fix itself by restarting.
`;
}
