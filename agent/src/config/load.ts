import { existsSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import convict from "convict";
import { jsonType } from "./formats.js";
import {
  type AgentConfig,
  argName,
  CONFIG_FILE_ENV,
  convictSchema,
  describeFormat,
  GROUPS,
  SETTINGS,
  SETTINGS_BY_KEY,
  type Setting,
} from "./schema.js";

/** sysexits.h EX_CONFIG: the configuration is wrong. systemd shows it as "status=78/CONFIG". */
export const EX_CONFIG = 78;

/** One thing wrong with the configuration. `key` is "" for problems of the file as a whole. */
export interface ConfigProblem {
  key: string;
  message: string;
}

/**
 * The configuration cannot be used. The message lists every problem found, each naming the
 * setting, the offending value (never a secret's), where it came from and how to fix it.
 * Commands exit with `exitCode` (78, EX_CONFIG) on it.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly exitCode = EX_CONFIG;

  constructor(readonly problems: ConfigProblem[]) {
    const list = problems.map((p) => p.message);
    super(
      list.length === 1
        ? `invalid configuration: ${list[0]}`
        : `invalid configuration, ${list.length} problems:\n${list.map((m) => `  - ${m}`).join("\n")}`,
    );
  }
}

export interface LoadOptions {
  /** JSON configuration file; its settings override the defaults. */
  file?: string;
  /** Environment (default process.env): `SER_*` variables override the file. */
  env?: NodeJS.ProcessEnv;
  /** Command-line arguments (`--mqtt-url URL` or `--mqtt-url=URL`): they override everything. */
  args?: readonly string[];
  /** For the default device id (default: os.hostname()). */
  hostname?: string;
  /** Receives warnings that do not stop the agent (an unknown SER_ variable, an unused setting). */
  warn?: (message: string) => void;
}

/** Where a setting's value came from, for messages. */
type Origin =
  | { kind: "default" }
  | { kind: "file"; path: string }
  | { kind: "env"; name: string }
  | { kind: "arg"; name: string };

/** Variables with the SER_ prefix that are not settings but are not typos either. */
const OTHER_SER_VARIABLES = new Set([CONFIG_FILE_ENV]);

/**
 * A file shipped beside the agent (models/default, demo/): in an unpacked package
 * (`npm run package`) it sits beside dist/, two levels up from dist/config; otherwise, from
 * agent/src/config (tsx) and agent/dist/config (built) alike, three levels up is the repository
 * (or the directory that holds an installed agent/ beside models/).
 */
export function installPath(path: string): string {
  const packaged = fileURLToPath(new URL(`../../${path}`, import.meta.url));
  if (existsSync(packaged)) return packaged;
  return fileURLToPath(new URL(`../../../${path}`, import.meta.url));
}

/** <install dir>/models/default, for `run`, `classify` and `bench` (see installPath). */
export function defaultModelDir(): string {
  return installPath("models/default");
}

/**
 * A hostname as a device id: the part before the first ".", lower case, runs of characters
 * other than letters, digits, "_" and "-" replaced by "-", at most 64 characters; "ser-edge" if
 * nothing is left.
 */
export function sanitiseHostname(name: string): string {
  const id = (name.split(".")[0] ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
  return id || "ser-edge";
}

/** The configuration file to read: --config, else $SER_CONFIG, else none. */
export function configFilePath(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return option ?? (env[CONFIG_FILE_ENV] || undefined);
}

// ---------------------------------------------------------------------------------------------
// Suggestions for misspelt names

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

const squash = (s: string) => s.toLowerCase().replace(/[_-]/g, "");

/** The candidate `word` was probably meant to be, if one is close enough. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const sq = squash(word);
  const same = candidates.find((c) => squash(c) === sq);
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 5)) + 1;
  for (const c of candidates) {
    const d = editDistance(sq, squash(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** The setting or group a misspelt or misplaced file key was probably meant to be. */
export function suggestKey(key: string): string | undefined {
  const candidates = [...SETTINGS.map((s) => s.key), ...GROUPS];
  const parts = key.split(".");
  const last = squash(parts[parts.length - 1]);
  const parentOf = (k: string) => k.split(".").slice(0, -1).join(".");
  const nameOf = (k: string) => squash(k.split(".").pop() ?? "");
  const close = closest(key, candidates);
  if (close && squash(close) === squash(key)) return close;
  // The right name in the wrong group ("baseTopic" at the top level for "mqtt.baseTopic").
  const moved = candidates.filter((c) => nameOf(c) === last);
  if (moved.length === 1) return moved[0];
  // A shortened name in the right group ("mqtt.user" for "mqtt.username").
  const parent = parts.slice(0, -1).join(".");
  const prefixed = candidates.filter(
    (c) => parentOf(c) === parent && last.length >= 3 && nameOf(c).startsWith(last),
  );
  if (prefixed.length === 1) return prefixed[0];
  return close;
}

/** The argument name (without "--") a misspelt one was probably meant to be. */
function suggestArg(name: string): string | undefined {
  return closest(name, [...ARG_TO_SETTING.keys()]);
}

const didYouMean = (s: string | undefined, show: (k: string) => string = (k) => `"${k}"`) =>
  s ? ` Did you mean ${show(s)}?` : "";

// ---------------------------------------------------------------------------------------------
// Values in messages

/** A URL with its password (if any) replaced by "***". */
export function maskUrlPassword(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = "***";
    return url.toString();
  } catch {
    return value;
  }
}

function showValue(setting: Setting | undefined, value: unknown): string {
  if (setting?.spec.sensitive) return "(hidden)";
  if (value === undefined) return "nothing";
  const masked =
    typeof value === "string" && setting?.key === "mqtt.url" ? maskUrlPassword(value) : value;
  const text = JSON.stringify(masked) ?? String(masked);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function originText(o: Origin): string {
  switch (o.kind) {
    case "file":
      return `set in ${o.path}`;
    case "env":
      return `set by the environment variable ${o.name}`;
    case "arg":
      return `set by the argument --${o.name}`;
    case "default":
      return "the default";
  }
}

function fixText(o: Origin, setting: Setting): string {
  const ways = [
    `the file key "${setting.key}"`,
    `the environment variable ${setting.env}`,
    ...(setting.arg ? [`--${setting.arg}`] : []),
  ].join(", ");
  switch (o.kind) {
    case "file":
      return `correct "${setting.key}" in ${o.path}`;
    case "env":
      return `correct or unset ${o.name}`;
    case "arg":
      return `correct --${o.name}`;
    case "default":
      return `set it (${ways})`;
  }
}

function valueProblem(setting: Setting, value: unknown, reason: string, origin: Origin): string {
  const expected = describeFormat(setting.spec);
  return `${setting.key}: ${showValue(setting, value)} ${reason} (${originText(origin)}). Expected ${expected}; ${fixText(origin, setting)}.`;
}

// ---------------------------------------------------------------------------------------------
// Command-line arguments

const ARG_TO_SETTING = new Map(
  SETTINGS.filter((s) => s.arg).map((s) => [s.arg as string, s] as const),
);
const FLAG_WORDS = new Set(["true", "false", "1", "0", "yes", "no", "on", "off"]);

/** `--name value`, `--name=value`, a bare `--flag` and `--no-flag` into setting → text. */
function parseArgs(args: readonly string[], problems: ConfigProblem[]): Map<Setting, string> {
  const out = new Map<Setting, string>();
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (!token.startsWith("--") || token === "--") {
      problems.push({
        key: "",
        message: `unexpected argument "${token}": settings are given as --name VALUE.`,
      });
      continue;
    }
    const eq = token.indexOf("=");
    let name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    let value: string | undefined = eq >= 0 ? token.slice(eq + 1) : undefined;
    let setting = ARG_TO_SETTING.get(name);
    if (!setting && value === undefined && name.startsWith("no-")) {
      const positive = ARG_TO_SETTING.get(name.slice(3));
      if (positive?.spec.format === "flag") {
        setting = positive;
        name = name.slice(3);
        value = "false";
      }
    }
    if (!setting) {
      const secret = SETTINGS.find((s) => s.spec.sensitive && argName(s.key) === name);
      problems.push({
        key: secret?.key ?? "",
        message: secret
          ? `--${name}: ${secret.key} cannot be given on the command line, where every user can read it (ps); set ${secret.env} or "${secret.key}" in the configuration file.`
          : `unknown argument --${name}.${didYouMean(suggestArg(name), (a) => `--${a}`)} \`ser-agent config --docs\` lists every setting.`,
      });
      if (value === undefined && i + 1 < args.length && !args[i + 1].startsWith("--")) i++;
      continue;
    }
    if (value === undefined) {
      const next = args[i + 1];
      if (setting.spec.format === "flag") {
        if (next !== undefined && FLAG_WORDS.has(next.toLowerCase())) {
          value = next;
          i++;
        } else {
          value = "true";
        }
      } else if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      } else {
        problems.push({
          key: setting.key,
          message: `--${name} needs a value: ${describeFormat(setting.spec)}.`,
        });
        continue;
      }
    }
    out.set(setting, value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The file

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT"
        ? "does not exist"
        : e.code === "EACCES"
          ? "is not readable by this user"
          : e.code === "EISDIR"
            ? "is a directory"
            : `cannot be read (${e.code ?? e.message})`;
    throw new ConfigError([
      {
        key: "",
        message: `configuration file ${path} ${why}; give an existing file with --config or ${CONFIG_FILE_ENV} (\`ser-agent config --example\` prints one to start from), or none to use the defaults.`,
      },
    ]);
  }
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError([
      {
        key: "",
        message: `configuration file ${path} is not valid JSON: ${(err as Error).message}. Fix the syntax (JSON allows no comments and no trailing commas).`,
      },
    ]);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks the file's shape against the schema, collecting unknown keys and misplaced objects,
 * and returns the well-formed part with the settings it sets (convict would otherwise take a
 * typo silently, or crash on an object where a value belongs).
 */
function checkFileShape(
  data: unknown,
  path: string,
  problems: ConfigProblem[],
): { clean: Record<string, unknown>; keys: Set<string> } {
  const keys = new Set<string>();
  if (!isPlainObject(data)) {
    problems.push({
      key: "",
      message: `configuration file ${path} must hold a JSON object ({"mqtt": {...}, ...}), not ${jsonType(data)}.`,
    });
    return { clean: {}, keys };
  }
  const walk = (node: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const clean: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      const setting = SETTINGS_BY_KEY.get(key);
      if (setting) {
        if (typeof value === "object" && value !== null) {
          problems.push({
            key,
            message: valueProblem(setting, value, `is ${jsonType(value)}`, { kind: "file", path }),
          });
        } else {
          clean[name] = value;
          keys.add(key);
        }
      } else if (GROUPS.has(key)) {
        if (isPlainObject(value)) {
          clean[name] = walk(value, key);
        } else {
          const children = [...SETTINGS.map((s) => s.key), ...GROUPS]
            .filter((k) => k.startsWith(`${key}.`) && !k.slice(key.length + 1).includes("."))
            .map((k) => k.slice(key.length + 1));
          problems.push({
            key,
            message: `${key} (in ${path}) is a group of settings and must be an object such as {"${children[0]}": ...}, not ${jsonType(value)}. Its keys: ${children.join(", ")}.`,
          });
        }
      } else {
        // The value of an unknown key is never shown: it may be a misspelt password.
        problems.push({
          key,
          message: `${key} (in ${path}) is not a setting.${didYouMean(suggestKey(key))} Rename or remove it; \`ser-agent config --docs\` lists every setting.`,
        });
      }
    }
    return clean;
  };
  return { clean: walk(data, ""), keys };
}

// ---------------------------------------------------------------------------------------------
// Loading

/** The line format of convict's validation errors: `<key>: <reason>[: value was <json>]`. */
const CONVICT_LINE = /^([A-Za-z0-9_.]+): (.*?)(?:: value was .*)?$/s;

/** The value at a dotted key of a configuration object. */
function valueAt(config: AgentConfig, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

function convictProblems(
  message: string,
  values: convict.Config<AgentConfig>,
  originOf: (s: Setting) => Origin,
): ConfigProblem[] {
  return message
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const m = CONVICT_LINE.exec(line);
      const setting = m ? SETTINGS_BY_KEY.get(m[1]) : undefined;
      if (!m || !setting) return { key: "", message: line };
      const value = valueAt(values.getProperties(), setting.key);
      const reason = Array.isArray(setting.spec.format) ? "is not an allowed value" : m[2];
      return { key: setting.key, message: valueProblem(setting, value, reason, originOf(setting)) };
    });
}

function crossChecks(c: AgentConfig, originOf: (s: Setting) => Origin, warn: (m: string) => void) {
  const problems: ConfigProblem[] = [];
  const setting = (key: string) => SETTINGS_BY_KEY.get(key) as Setting;
  if (c.input.source === "file" && c.input.file === "") {
    const s = setting("input.file");
    problems.push({
      key: s.key,
      message: `input.file is empty but input.source is "file" (${originText(originOf(setting("input.source")))}). Set input.file (${s.env}, --${s.arg}) to a WAV, FLAC or MP3 file, or choose another input.source.`,
    });
  }
  if ((c.mqtt.cert === "") !== (c.mqtt.key === "")) {
    const [set, missing] = c.mqtt.cert ? ["mqtt.cert", "mqtt.key"] : ["mqtt.key", "mqtt.cert"];
    const s = setting(missing);
    problems.push({
      key: missing,
      message: `${missing} is empty but ${set} is set: TLS client authentication needs both the certificate and its key. Set ${missing} (${s.env}, --${s.arg}) or clear ${set}.`,
    });
  }
  if (c.vad.windowOverlapMs >= c.vad.maxUtteranceMs) {
    const s = setting("vad.windowOverlapMs");
    problems.push({
      key: s.key,
      message: `vad.windowOverlapMs (${c.vad.windowOverlapMs}, ${originText(originOf(s))}) must be less than vad.maxUtteranceMs (${c.vad.maxUtteranceMs}), or windows would never advance; lower it.`,
    });
  }
  // The segmenter's own rule (vad/segmenter.ts), on its 10 ms frames: a window that reaches the
  // maximum must still hold the pre-roll, the hangover and the minimum speech.
  const frames10 = (v: number) => Math.round(v / 10) * 10;
  const v = c.vad;
  const leastMax =
    frames10(v.preRollMs) + frames10(v.hangoverMs) + Math.max(frames10(v.minSpeechMs), 10);
  if (frames10(v.maxUtteranceMs) < leastMax) {
    const s = setting("vad.maxUtteranceMs");
    problems.push({
      key: s.key,
      message: `vad.maxUtteranceMs (${v.maxUtteranceMs}, ${originText(originOf(s))}) must be at least vad.preRollMs + vad.hangoverMs + vad.minSpeechMs (${v.preRollMs} + ${v.hangoverMs} + ${v.minSpeechMs}, at least ${leastMax}); raise it or lower those.`,
    });
  }
  const tls = /^(mqtts|tls|wss):/.test(c.mqtt.url);
  for (const key of ["ca", "cert", "key"] as const) {
    if (c.mqtt[key] !== "" && !tls) {
      warn(
        `mqtt.${key} is set but mqtt.url (${c.mqtt.url === "" ? "empty: the embedded broker" : maskUrlPassword(c.mqtt.url)}) does not use TLS (mqtts://, tls:// or wss://), so it is not used.`,
      );
    }
  }
  return problems;
}

/** Fills the settings whose empty default means "automatic". */
function resolveAutomatic(c: AgentConfig, env: NodeJS.ProcessEnv, hostname: string): AgentConfig {
  if (c.device.id === "") c.device.id = sanitiseHostname(hostname);
  if (c.model.dir === "") c.model.dir = defaultModelDir();
  if (c.mqtt.clientId === "") c.mqtt.clientId = `ser-edge-${c.device.id}`;
  const state = env.STATE_DIRECTORY?.split(":")[0];
  if (c.mqtt.outbox.dir === "" && state) c.mqtt.outbox.dir = join(state, "outbox");
  if (c.rollout.dir === "" && state) c.rollout.dir = join(state, "models");
  return c;
}

/**
 * The agent's configuration: the schema's defaults, overridden by the JSON file, then by `SER_*`
 * environment variables, then by command-line arguments; validated strictly (an unknown key in
 * the file is an error, as is any value outside its format) and with the automatic settings
 * resolved. Throws ConfigError listing every problem found.
 */
export function loadConfig(options: LoadOptions = {}): AgentConfig {
  const env = options.env ?? process.env;
  const warn = options.warn ?? (() => {});
  const problems: ConfigProblem[] = [];

  const argValues = parseArgs(options.args ?? [], problems);
  let fileKeys = new Set<string>();
  let clean: Record<string, unknown> = {};
  if (options.file !== undefined) {
    ({ clean, keys: fileKeys } = checkFileShape(
      readJsonFile(options.file),
      options.file,
      problems,
    ));
  }

  const settingEnvs = new Set(SETTINGS.map((s) => s.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith("SER_") && !settingEnvs.has(name) && !OTHER_SER_VARIABLES.has(name)) {
      const guess = closest(name, [...settingEnvs]);
      warn(
        `the environment variable ${name} is not a setting and is ignored.${didYouMean(guess, (n) => n)}`,
      );
    }
  }

  const originOf = (s: Setting): Origin => {
    if (argValues.has(s)) return { kind: "arg", name: s.arg as string };
    if (env[s.env] !== undefined) return { kind: "env", name: s.env };
    if (fileKeys.has(s.key) && options.file) return { kind: "file", path: options.file };
    return { kind: "default" };
  };

  // convict reads the environment itself, at creation and again after load(), so the file comes
  // first and the environment overrides it. It gets no arguments: they are set last, below.
  const config = convict<AgentConfig>(convictSchema(), { env, args: [] });
  config.load(clean);
  for (const [setting, text] of argValues) config.set(setting.key, text);

  try {
    config.validate({ allowed: "strict", output: (m) => warn(m) });
  } catch (err) {
    problems.push(...convictProblems((err as Error).message, config, originOf));
  }
  const values = config.getProperties();
  if (problems.length === 0) problems.push(...crossChecks(values, originOf, warn));
  if (problems.length > 0) throw new ConfigError(problems);
  return resolveAutomatic(values, env, options.hostname ?? osHostname());
}

/**
 * A copy of `config` safe to print or log: sensitive settings that are set become "***" (empty
 * ones stay empty, which tells that none is set), and a password inside mqtt.url is masked.
 */
export function redacted(config: AgentConfig): AgentConfig {
  const copy = structuredClone(config);
  for (const s of SETTINGS) {
    const path = s.key.split(".");
    const leaf = path.pop() as string;
    let parent = copy as unknown as Record<string, unknown>;
    for (const p of path) parent = parent[p] as Record<string, unknown>;
    if (s.spec.sensitive && parent[leaf] !== "") parent[leaf] = "***";
  }
  copy.mqtt.url = maskUrlPassword(copy.mqtt.url);
  return copy;
}

/** `--name=value` arguments for loadConfig from parsed options keyed by argument name. */
export function settingArgs(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const s of SETTINGS) {
    const v = s.arg ? values[s.arg] : undefined;
    if (typeof v === "string") out.push(`--${s.arg}=${v}`);
  }
  return out;
}
