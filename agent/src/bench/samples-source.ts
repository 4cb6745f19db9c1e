import { FileSource, type FileSourceOptions } from "../capture/index.js";

/**
 * Audio held in memory (16 kHz mono), played like a file: what the benchmarks feed the agent,
 * so that no decoding and no temporary file (an SD card write on a board) is measured with it.
 */
export class SamplesSource extends FileSource {
  constructor(
    name: string,
    private readonly samples: Float32Array,
    options: FileSourceOptions = {},
  ) {
    super(name, options);
  }

  protected override async load(): Promise<Float32Array> {
    return this.samples;
  }
}
