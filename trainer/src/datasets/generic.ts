import { genericLabel } from "./labels.js";
import { baseName, type CorpusReader, ok, skip, stem } from "./reader.js";

export const UNKNOWN_SPEAKER = "unknown";

/**
 * Any corpus laid out as `DIR/<label>/*.wav` or `DIR/<label>/<speaker>/**`. The speaker comes
 * from --speaker-regex (first capture group, applied to the file name) when given, else from the
 * folder below the label, else it is unknown (and no speaker-independent split is possible).
 */
export const genericReader: CorpusReader = {
  corpus: "generic",
  pattern: "DIR/<label>/[<speaker>/]FILE",
  claims: (segments) => segments.length >= 2 && genericLabel(segments[0]) !== undefined,
  parse(segments, opts) {
    const label = segments.length >= 2 ? genericLabel(segments[0]) : undefined;
    if (!label) return skip(`not in a label folder (${this.pattern})`);
    const name = baseName(segments);
    let speaker = UNKNOWN_SPEAKER;
    if (opts.speakerRegex) {
      const m = opts.speakerRegex.exec(name);
      if (!m || m[1] === undefined || m[1] === "") {
        return skip(`--speaker-regex ${opts.speakerRegex.source} finds no speaker in "${name}"`);
      }
      speaker = m[1];
    } else if (segments.length >= 3) {
      speaker = segments[1];
    }
    // Same speaker and file name under two label folders are two different recordings.
    const key = [...segments.slice(0, -1), stem(name)].join("/");
    return ok({ label, speaker, extras: {}, key });
  },
};
