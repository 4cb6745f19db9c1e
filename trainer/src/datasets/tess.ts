import { TESS_EMOTIONS } from "./labels.js";
import { baseName, type CorpusReader, ok, skip, stem } from "./reader.js";

// Some TESS copies name a few older-speaker files "OA_bite_neutral.wav"; OA is OAF.
const LOOSE = /^(OAF|OA|YAF)_/i;
const NAME = /^(OAF|OA|YAF)_([A-Za-z]+)_([A-Za-z]+)$/i;

/**
 * TESS: `OAF_back_angry.wav` (speaker OAF = older, YAF = younger female talker, target word,
 * emotion), usually in folders like OAF_angry/ or YAF_pleasant_surprised/.
 */
export const tessReader: CorpusReader = {
  corpus: "tess",
  pattern: "OAF|YAF_word_emotion (e.g. OAF_back_angry.wav)",
  claims: (segments) => LOOSE.test(baseName(segments)),
  parse(segments) {
    const m = NAME.exec(stem(baseName(segments)));
    if (!m) return skip(`name does not follow the TESS pattern ${this.pattern}`);
    const speaker = m[1].toUpperCase() === "YAF" ? "YAF" : "OAF";
    const word = m[2].toLowerCase();
    const emotion = m[3].toLowerCase();
    const label = TESS_EMOTIONS[emotion];
    if (!label) {
      const words = Object.keys(TESS_EMOTIONS).join(", ");
      return skip(`TESS emotion "${m[3]}" unknown (${words})`);
    }
    return ok({
      label,
      speaker,
      extras: { word, sex: "female", age: speaker === "OAF" ? "older" : "younger" },
      key: `${speaker}_${word}_${emotion}`,
    });
  },
};
