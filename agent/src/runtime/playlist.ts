import { readAudioFile } from "../audio/index.js";
import { CAPTURE_SAMPLE_RATE, FileSource, type FileSourceOptions } from "../capture/index.js";

export interface PlaylistOptions extends FileSourceOptions {
  /** Silence between two files, so that each is an utterance of its own. Default 1,000 ms. */
  gapMs?: number;
}

/** Where one file lies in the stream. */
export interface PlaylistEntry {
  file: string;
  /** Stream samples [startSample, endSample) at 16 kHz. */
  startSample: number;
  endSample: number;
}

/**
 * Audio files played one after the other as one stream, with `gapMs` of digital silence between
 * them: what `ser-agent run --input a.wav b.flac ...` listens to. Every file is decoded (and
 * resampled to 16 kHz mono) by start(), which rejects if one cannot be read. Played in real time
 * or, with `fast`, as fast as the consumer takes it, like FileSource.
 */
export class PlaylistSource extends FileSource {
  readonly files: readonly string[];
  private readonly gapSamples: number;
  private layout: PlaylistEntry[] = [];
  /** Wall clock of stream sample 0, known from the first chunk. */
  private wall0 = Number.NaN;

  constructor(files: readonly string[], options: PlaylistOptions = {}) {
    if (files.length === 0) throw new RangeError("a playlist needs at least one file");
    super(files.length === 1 ? files[0] : `${files[0]} and ${files.length - 1} more`, options);
    this.files = [...files];
    const gapMs = options.gapMs ?? 1000;
    if (!(gapMs >= 0)) throw new RangeError(`gapMs must be 0 or more, got ${gapMs}`);
    this.gapSamples = Math.round((gapMs * CAPTURE_SAMPLE_RATE) / 1000);
    this.once("data", (chunk) => {
      this.wall0 = chunk.timeMs - (chunk.startSample * 1000) / CAPTURE_SAMPLE_RATE;
    });
  }

  /** Where each file lies in the stream (known once start() resolved). */
  get entries(): readonly PlaylistEntry[] {
    return this.layout;
  }

  /** The file playing at wall-clock time `timeMs` (chunk clock), if any. */
  fileAt(timeMs: number): string | undefined {
    if (Number.isNaN(this.wall0)) return undefined;
    const sample = ((timeMs - this.wall0) * CAPTURE_SAMPLE_RATE) / 1000;
    return this.layout.find((e) => sample >= e.startSample && sample < e.endSample)?.file;
  }

  /** The file most of [startMs, endMs] falls in (the one with the largest overlap). */
  fileFor(startMs: number, endMs: number): string | undefined {
    if (Number.isNaN(this.wall0)) return undefined;
    const toSample = (t: number) => ((t - this.wall0) * CAPTURE_SAMPLE_RATE) / 1000;
    const a = toSample(startMs);
    const b = toSample(endMs);
    let best: PlaylistEntry | undefined;
    let bestOverlap = 0;
    for (const e of this.layout) {
      const overlap = Math.min(b, e.endSample) - Math.max(a, e.startSample);
      if (overlap > bestOverlap) {
        best = e;
        bestOverlap = overlap;
      }
    }
    return best?.file;
  }

  protected override async load(): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    for (const file of this.files) {
      parts.push((await readAudioFile(file, { targetRate: CAPTURE_SAMPLE_RATE })).samples);
    }
    const total =
      parts.reduce((n, p) => n + p.length, 0) + this.gapSamples * Math.max(0, parts.length - 1);
    const out = new Float32Array(total);
    const layout: PlaylistEntry[] = [];
    let at = 0;
    parts.forEach((p, i) => {
      if (i > 0) at += this.gapSamples;
      out.set(p, at);
      layout.push({ file: this.files[i], startSample: at, endSample: at + p.length });
      at += p.length;
    });
    this.layout = layout;
    return out;
  }
}
