import { RolloutError } from "./errors.js";

/**
 * A bundle as one MQTT payload, so that a retained message carries the manifest, the model and
 * an optional rollback authorisation together (separate messages could arrive in any order, or
 * not all, at a device that was offline):
 *
 *   "SERB" | format (u8 = 1) | header length (u32 BE) | header (UTF-8 JSON) | model bytes
 *
 * The header is `EnvelopeHeader`. Nothing in it is trusted for being there: the manifest carries
 * the signature and the model's hash, the rollback authorisation its own signature; `id` only
 * correlates a push with the reports it causes.
 */

const MAGIC = Buffer.from("SERB", "ascii");
export const ENVELOPE_FORMAT = 1;
const PREFIX = MAGIC.length + 1 + 4;
/** A manifest with its reference cases is ~100-200 kB; a header over this is not ours. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface EnvelopeHeader {
  /** Push id (random), echoed in the device's report. */
  id: string;
  /** When the push was made (ISO 8601), informational. */
  issuedAt: string;
  /** The bundle's manifest.json, as an object. */
  manifest: unknown;
  /** A signed authorisation to install an older version (`ser-trainer push --rollback`). */
  rollback?: unknown;
}

export function encodeEnvelope(header: EnvelopeHeader, model: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt8(ENVELOPE_FORMAT, MAGIC.length);
  prefix.writeUInt32BE(json.length, MAGIC.length + 1);
  return Buffer.concat([prefix, json, model]);
}

export interface DecodedEnvelope {
  header: EnvelopeHeader;
  model: Uint8Array;
}

/** Splits a payload; throws RolloutError "bundle-format" saying what is wrong with it. */
export function decodeEnvelope(payload: Uint8Array): DecodedEnvelope {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const fail = (problem: string): never => {
    throw new RolloutError(
      "bundle-format",
      `the payload is not a ser-edge bundle: ${problem}; publish bundles with \`ser-trainer push\``,
    );
  };
  if (buf.length < PREFIX || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    fail(`it does not start with "SERB" (${buf.length} bytes)`);
  }
  const format = buf.readUInt8(MAGIC.length);
  if (format !== ENVELOPE_FORMAT) {
    throw new RolloutError(
      "bundle-format",
      `the bundle uses envelope format ${format}, this agent reads format ${ENVELOPE_FORMAT}; update the agent or push with a matching ser-trainer`,
    );
  }
  const length = buf.readUInt32BE(MAGIC.length + 1);
  if (length > MAX_HEADER_BYTES || PREFIX + length > buf.length) {
    fail(`its header claims ${length} bytes but ${buf.length - PREFIX} follow (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(PREFIX, PREFIX + length).toString("utf8"));
  } catch (err) {
    fail(`its header is not JSON (${(err as Error).message})`);
  }
  const h = header as Record<string, unknown>;
  if (typeof h !== "object" || h === null || Array.isArray(h)) fail("its header is not an object");
  if (typeof h.id !== "string" || h.id === "" || h.id.length > 200) fail("its header has no id");
  if (typeof h.manifest !== "object" || h.manifest === null) fail("its header has no manifest");
  return {
    header: {
      id: h.id as string,
      issuedAt: typeof h.issuedAt === "string" ? h.issuedAt : "",
      manifest: h.manifest,
      ...(h.rollback !== undefined ? { rollback: h.rollback } : {}),
    },
    model: new Uint8Array(
      buf.buffer,
      buf.byteOffset + PREFIX + length,
      buf.length - PREFIX - length,
    ),
  };
}
