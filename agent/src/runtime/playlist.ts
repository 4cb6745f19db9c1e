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
 * them: what `ser-agent run --input a.wav b.flac ...` listens to. Each file is decoded (and
 * resampled to 16 kHz mono) when its turn comes; start() rejects if the first cannot be read,
 * later unreadable files are skipped with an error in the log. Played in real time
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

  /** Where each file lies in the stream (known for every file decoded so far). */
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

  /**
   * The files one at a time, decoded when their turn comes (only the file playing is held in
   * memory, so an hour of files replays in constant memory), with the gaps between them. A file
   * that cannot be read ends the stream with its error if it is the first (start() rejects), and
   * is skipped with an error in the log otherwise, so one bad file does not end a long replay.
   */
  protected override async *pieces(): AsyncGenerator<Float32Array> {
    let at = 0;
    for (const [i, file] of this.files.entries()) {
      let samples: Float32Array;
      try {
        samples = (await readAudioFile(file, { targetRate: CAPTURE_SAMPLE_RATE })).samples;
      } catch (err) {
        if (i === 0) throw err;
        this.logger?.error("skipping an unreadable file", { file, error: err });
        continue;
      }
      if (this.layout.length > 0 && this.gapSamples > 0) {
        yield new Float32Array(this.gapSamples);
        at += this.gapSamples;
      }
      this.layout.push({ file, startSample: at, endSample: at + samples.length });
      at += samples.length;
      yield samples;
    }
  }
}
