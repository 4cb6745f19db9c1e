import {
  DEFAULT_FEATURE_PARAMS,
  type FeatureParams,
  resolveFeatureParams,
} from "../features/params.js";
import {
  isRepresentation,
  REPRESENTATIONS,
  representationWidth,
} from "../features/representation.js";
import { ModelError } from "./errors.js";
import { MANIFEST_SCHEMA, type Manifest } from "./manifest.js";
import { isSemver } from "./version.js";

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isInt = (v: unknown, min: number): v is number =>
  Number.isSafeInteger(v) && (v as number) >= min;
const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNum);
const show = (v: unknown) => (v === undefined ? "missing" : JSON.stringify(v)?.slice(0, 40));
/** A plain file name: the manifest must not point outside its bundle. */
const FILE_NAME = /^(?!\.\.?$)[^/\\]+$/;

/** Collects every problem, so one export mistake is fixed in one round trip. */
class Problems {
  readonly list: string[] = [];
  need(ok: boolean, at: string, what: string, ...got: unknown[]): boolean {
    if (!ok)
      this.list.push(`${at} must be ${what}${got.length > 0 ? ` (got ${show(got[0])})` : ""}`);
    return ok;
  }
  obj(parent: Rec, key: string, at: string): Rec | undefined {
    const v = parent[key];
    return this.need(isRec(v), `${at}${key}`, "an object", v) ? (v as Rec) : undefined;
  }
  str(parent: Rec, key: string, at: string): void {
    this.need(isStr(parent[key]), `${at}${key}`, "a non-empty string", parent[key]);
  }
  int(parent: Rec, key: string, at: string, min: number): void {
    this.need(isInt(parent[key], min), `${at}${key}`, `an integer >= ${min}`, parent[key]);
  }
  num(parent: Rec, key: string, at: string): void {
    this.need(isNum(parent[key]), `${at}${key}`, "a finite number", parent[key]);
  }
  strings(parent: Rec, key: string, at: string, nonEmpty: boolean): void {
    const v = parent[key];
    const ok = Array.isArray(v) && v.every(isStr) && (!nonEmpty || v.length > 0);
    this.need(
      ok,
      `${at}${key}`,
      `${nonEmpty ? "a non-empty" : "an"} array of non-empty strings`,
      v,
    );
  }
  numbers(parent: Rec, key: string, at: string, length?: number): void {
    const v = parent[key];
    if (!this.need(isNumArray(v), `${at}${key}`, "an array of finite numbers", v)) return;
    const n = (v as number[]).length;
    if (length !== undefined)
      this.need(n === length, `${at}${key}`, `${length} numbers long, not ${n}`);
  }
  tensor(parent: Rec, key: string, at: string): void {
    const t = this.obj(parent, key, at);
    if (!t) return;
    this.str(t, "name", `${at}${key}.`);
    this.need(t.type === "float32", `${at}${key}.type`, '"float32"', t.type);
    const shape = t.shape;
    const dimOk = (d: unknown) => isInt(d, 1) || isStr(d);
    this.need(
      Array.isArray(shape) && shape.length > 0 && shape.every(dimOk),
      `${at}${key}.shape`,
      "an array of sizes and axis names",
      shape,
    );
  }
}

function checkFeatures(p: Problems, m: Rec): number | undefined {
  const f = p.obj(m, "features", "");
  if (!f) return undefined;
  const before = p.list.length;
  for (const [k, d] of Object.entries(DEFAULT_FEATURE_PARAMS)) {
    const v = f[k];
    const nullable = k === "melNorm" || k === "topDb";
    p.need(
      typeof v === typeof d || (nullable && v === null),
      `features.${k}`,
      `a ${typeof d}${nullable ? " or null" : ""}`,
      v,
    );
  }
  for (const k of Object.keys(f)) {
    // An unknown parameter would be silently ignored and the device would compute other features.
    p.need(
      k in DEFAULT_FEATURE_PARAMS,
      `features.${k}`,
      "a parameter this agent knows (update the agent)",
    );
  }
  if (p.list.length > before) return undefined;
  try {
    const params = resolveFeatureParams(f as Partial<FeatureParams>);
    return isRepresentation(m.representation)
      ? representationWidth(m.representation, params)
      : undefined;
  } catch (err) {
    p.list.push(`features: ${(err as Error).message}`);
    return undefined;
  }
}

function checkSplit(p: Problems, v: unknown, at: string): void {
  if (!p.need(isRec(v), at, "an object", v)) return;
  const s = v as Rec;
  p.strings(s, "speakers", `${at}.`, false);
  p.int(s, "clips", `${at}.`, 0);
  p.need(isRec(s.labelCounts), `${at}.labelCounts`, "an object", s.labelCounts);
}

function checkMetrics(p: Problems, v: unknown, at: string, nLabels: number): void {
  if (v === undefined) return;
  if (!p.need(isRec(v), at, "an object", v)) return;
  const s = v as Rec;
  for (const k of ["uar", "accuracy", "macroF1"]) p.num(s, k, `${at}.`);
  p.int(s, "clips", `${at}.`, 0);
  const c = s.confusion;
  const square =
    Array.isArray(c) &&
    c.length === nLabels &&
    c.every((r) => isNumArray(r) && r.length === nLabels);
  p.need(square, `${at}.confusion`, `a ${nLabels}x${nLabels} array of numbers`);
}

function checkTraining(p: Problems, m: Rec, nLabels: number): void {
  const t = p.obj(m, "training", "");
  if (t) {
    p.strings(t, "corpora", "training.", false);
    for (const k of ["dataHash", "command"])
      p.need(typeof t[k] === "string", `training.${k}`, "a string", t[k]);
    p.int(t, "epochs", "training.", 0);
    p.num(t, "seed", "training.");
    const s = p.obj(t, "splits", "training.");
    if (s) {
      checkSplit(p, s.train, "training.splits.train");
      if (s.validation !== undefined) checkSplit(p, s.validation, "training.splits.validation");
      if (s.test !== undefined) checkSplit(p, s.test, "training.splits.test");
    }
  }
  if (m.preprocessing !== undefined) {
    const pre = p.obj(m, "preprocessing", "");
    if (pre)
      p.need(typeof pre.vadTrim === "boolean", "preprocessing.vadTrim", "a boolean", pre.vadTrim);
  }
  const met = p.obj(m, "metrics", "");
  if (met) {
    checkMetrics(p, met.validation, "metrics.validation", nLabels);
    checkMetrics(p, met.test, "metrics.test", nLabels);
  }
  const q = p.obj(m, "quantization", "");
  if (q)
    p.need(
      q.kind === "none" || q.kind === "static-int8-qdq",
      "quantization.kind",
      '"none" or "static-int8-qdq"',
      q.kind,
    );
  const a = p.obj(m, "architecture", "");
  if (a) {
    p.str(a, "arch", "architecture.");
    p.need(
      typeof a.description === "string",
      "architecture.description",
      "a string",
      a.description,
    );
    p.int(a, "parameters", "architecture.", 0);
  }
}

function checkReference(p: Problems, m: Rec, width: number | undefined, nLabels: number): void {
  const ref = m.reference;
  if (!p.need(Array.isArray(ref), "reference", "an array of reference cases", ref)) return;
  (ref as unknown[]).forEach((c, i) => {
    const at = `reference[${i}]`;
    if (!p.need(isRec(c), at, "an object", c)) return;
    const r = c as Rec;
    p.need(typeof r.description === "string", `${at}.description`, "a string", r.description);
    p.int(r, "frames", `${at}.`, 1);
    const inputLength = width !== undefined && isInt(r.frames, 1) ? r.frames * width : undefined;
    p.numbers(r, "input", `${at}.`, inputLength);
    p.numbers(r, "expected", `${at}.`, nLabels);
    p.need(
      isNum(r.tolerance) && r.tolerance > 0,
      `${at}.tolerance`,
      "a positive number",
      r.tolerance,
    );
  });
}

/** Checks the structure of a parsed manifest.json; `path` names it in the error. */
export function validateManifest(value: unknown, path: string): Manifest {
  const fail = (problem: string) => new ModelError("manifest-invalid", path, problem);
  if (!isRec(value)) throw fail("is not a JSON object; re-export the bundle");
  const m = value;
  if (m.schema !== MANIFEST_SCHEMA) {
    const known = typeof m.schema === "string" && m.schema.startsWith("ser-edge/manifest@");
    throw fail(
      known
        ? `schema "${m.schema}" is not supported (this agent reads "${MANIFEST_SCHEMA}"); update the agent or export the model with a matching ser-trainer`
        : `schema is ${show(m.schema)}, not "${MANIFEST_SCHEMA}": this is not a ser-edge model manifest`,
    );
  }
  const p = new Problems();
  for (const k of ["name", "version", "createdAt"]) p.str(m, k, "");
  if (typeof m.version === "string" && m.version !== "") {
    // Rollout compares versions (anti-rollback): they must be ordered.
    p.need(isSemver(m.version), "version", "a semantic version such as 1.2.0", m.version);
  }
  p.strings(m, "labels", "", true);
  const labels = Array.isArray(m.labels) ? m.labels : [];
  p.need(new Set(labels).size === labels.length, "labels", "unique");
  p.need(
    isRepresentation(m.representation),
    "representation",
    REPRESENTATIONS.map((r) => `"${r}"`).join(", or "),
    m.representation,
  );
  const width = checkFeatures(p, m);
  const norm = p.obj(m, "normalization", "");
  if (norm) {
    p.need(
      norm.kind === "global" || norm.kind === "speaker",
      "normalization.kind",
      '"global" or "speaker"',
      norm.kind,
    );
    p.numbers(norm, "mean", "normalization.", width);
    p.numbers(norm, "std", "normalization.", width);
    if (isNumArray(norm.std))
      p.need(
        norm.std.every((s) => s > 0),
        "normalization.std",
        "all positive",
      );
  }
  p.int(m, "minFrames", "", 1);
  p.tensor(m, "input", "");
  const outs = p.obj(m, "outputs", "");
  if (outs) {
    p.tensor(outs, "probabilities", "outputs.");
    if (outs.logits !== undefined) p.tensor(outs, "logits", "outputs.");
  }
  checkTraining(p, m, labels.length);
  const model = p.obj(m, "model", "");
  if (model) {
    p.need(
      typeof model.file === "string" && FILE_NAME.test(model.file),
      "model.file",
      "a file name inside the bundle",
      model.file,
    );
    p.need(
      typeof model.sha256 === "string" && /^[0-9a-f]{64}$/.test(model.sha256),
      "model.sha256",
      "64 lowercase hex digits",
      model.sha256,
    );
    p.int(model, "bytes", "model.", 1);
    p.int(model, "opset", "model.", 1);
  }
  checkReference(p, m, width, labels.length);
  if (m.signature !== undefined) {
    const s = m.signature;
    const ok =
      isRec(s) &&
      s.alg === "ed25519" &&
      typeof s.keyId === "string" &&
      /^[0-9a-f]{16}$/.test(s.keyId) &&
      typeof s.value === "string";
    p.need(ok, "signature", 'an object {alg: "ed25519", keyId: 16 hex digits, value: base64}');
  }
  if (p.list.length > 0) {
    const shown = p.list.slice(0, 8).join("; ");
    const more = p.list.length > 8 ? ` (and ${p.list.length - 8} more)` : "";
    throw fail(`invalid manifest: ${shown}${more}; re-export the bundle with ser-trainer`);
  }
  return m as unknown as Manifest;
}
