import { RAVDESS_EMOTIONS } from "./labels.js";
import { baseName, type CorpusReader, ok, skip, stem } from "./reader.js";

const NAME = /^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$/;

const STATEMENTS: Record<string, string> = {
  "01": "kids are talking by the door",
  "02": "dogs are sitting by the door",
};

/**
 * RAVDESS: `MM-VV-EE-II-SS-RR-AA.wav|flac|mp3` in any folder (usually Actor_NN/). MM modality
 * (03 audio-only), VV vocal channel (01 speech, 02 song), EE emotion, II intensity (01 normal,
 * 02 strong), SS statement, RR repetition, AA actor 01..24 (odd male, even female).
 */
export const ravdessReader: CorpusReader = {
  corpus: "ravdess",
  pattern: "MM-VV-EE-II-SS-RR-AA (e.g. 03-01-05-02-01-01-17.wav)",
  claims: (segments) => NAME.test(stem(baseName(segments))),
  parse(segments, opts) {
    const m = NAME.exec(stem(baseName(segments)));
    if (!m) return skip(`name does not follow the RAVDESS pattern ${this.pattern}`);
    const [, modality, vocal, emotion, intensity, statement, repetition, actor] = m;
    // 01/02 are the audio-video and video-only releases; their audio duplicates modality 03.
    if (modality !== "03") return skip(`RAVDESS modality ${modality} is not 03 (audio-only)`);
    if (vocal !== "01" && vocal !== "02") return skip(`RAVDESS vocal channel ${vocal} unknown`);
    if (vocal === "02" && !opts.includeSong) {
      return skip("RAVDESS song (vocal channel 02); pass --include-song to use it");
    }
    const label = RAVDESS_EMOTIONS[emotion];
    if (!label) return skip(`RAVDESS emotion code ${emotion} unknown (01..08)`);
    if (intensity !== "01" && intensity !== "02") {
      return skip(`RAVDESS intensity ${intensity} unknown (01 normal, 02 strong)`);
    }
    if (!STATEMENTS[statement]) return skip(`RAVDESS statement ${statement} unknown (01, 02)`);
    const n = Number(actor);
    if (n < 1 || n > 24) return skip(`RAVDESS actor ${actor} out of range 01..24`);
    return ok({
      label,
      speaker: String(n),
      extras: {
        vocal: vocal === "01" ? "speech" : "song",
        intensity: intensity === "01" ? "normal" : "strong",
        statement,
        repetition,
        sex: n % 2 === 1 ? "male" : "female",
      },
      key: m[0],
    });
  },
};
