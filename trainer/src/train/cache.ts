import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeAudio, resample } from "@ser-edge/agent/audio";
import { type FeatureParams, featureParamsKey } from "@ser-edge/agent/features";

/** Bump when the feature code changes its output for the same parameters. */
const FEATURE_CODE_REVISION = 2;

/**
 * On-disk cache of decoded 16 kHz audio and of features, keyed by the file's content hash (so a
 * renamed or moved corpus still hits, and an edited file misses) and, for features, by the full
 * feature parameters and representation. A second training run skips decoding entirely.
 * Entries are raw little-endian float32 written atomically (temp file + rename).
 */
export class FeatureCache {
  constructor(readonly dir: string) {}

  private async get(kind: string, key: string): Promise<Float32Array | undefined> {
    try {
      const buf = await readFile(join(this.dir, kind, `${key}.f32`));
      return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    } catch {
      return undefined;
    }
  }

  private async put(kind: string, key: string, data: Float32Array): Promise<void> {
    const dir = join(this.dir, kind);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${key}.${process.pid}.tmp`);
    await writeFile(tmp, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    await rename(tmp, join(dir, `${key}.f32`));
  }

  /** Decoded mono audio at `sampleRate`, and the file's content hash. */
  async audio(path: string, sampleRate: number): Promise<{ hash: string; samples: Float32Array }> {
    const bytes = await readFile(path);
    const hash = createHash("sha256").update(bytes).digest("hex");
    const key = `${hash}-${sampleRate}`;
    const hit = await this.get("audio", key);
    if (hit) return { hash, samples: hit };
    // Decode the bytes already read for the hash rather than reading the file a second time.
    const decoded = await decodeAudio(new Uint8Array(bytes), path);
    const samples = await resample(decoded.samples, decoded.sampleRate, sampleRate);
    await this.put("audio", key, samples);
    return { hash, samples };
  }

  /**
   * Cached features of the audio with content hash `hash`, computed by `compute` on a miss.
   * FEATURE_CODE_REVISION is part of the key: feature code that changes any value (even in the
   * last bit, as the pitch low-pass in float32 did) must not be served stale features.
   */
  async features(
    hash: string,
    params: FeatureParams,
    representation: string,
    compute: () => Float32Array,
  ): Promise<Float32Array> {
    const key = createHash("sha256")
      .update(`${hash}\n${featureParamsKey(params)}\n${representation}\n${FEATURE_CODE_REVISION}`)
      .digest("hex");
    const hit = await this.get("features", key);
    if (hit) return hit;
    const data = compute();
    await this.put("features", key, data);
    return data;
  }
}
