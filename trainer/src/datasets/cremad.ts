import { CREMAD_EMOTIONS } from "./labels.js";
import { baseName, type CorpusReader, ok, skip, stem } from "./reader.js";

const LOOSE = /^\d{4}_[A-Za-z]{3}_[A-Za-z]{3}_[A-Za-z]{2}$/;
const NAME = /^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$/;

const SENTENCES = new Set([
  "IEO",
  "TIE",
  "IOM",
  "IWW",
  "TAI",
  "MTI",
  "IWL",
  "ITH",
  "DFA",
  "ITS",
  "TSI",
  "WSI",
]);

const LEVELS: Record<string, string> = { LO: "low", MD: "medium", HI: "high", XX: "unspecified" };

/**
 * CREMA-D: `1001_DFA_ANG_XX.wav|mp3` (actor, sentence, emotion, level) in AudioWAV/ or
 * AudioMP3/. Actors 1001..1091; sex is not in the name (it lives in VideoDemographics.csv).
 */
export const cremadReader: CorpusReader = {
  corpus: "crema-d",
  pattern: "AAAA_SSS_EEE_LL (e.g. 1001_DFA_ANG_XX.wav)",
  claims: (segments) => LOOSE.test(stem(baseName(segments))),
  parse(segments) {
    const m = NAME.exec(stem(baseName(segments)));
    if (!m) return skip(`name does not follow the CREMA-D pattern ${this.pattern}`);
    const [, actor, sentence, emotion, level] = m;
    const label = CREMAD_EMOTIONS[emotion];
    if (!label) {
      const codes = Object.keys(CREMAD_EMOTIONS).join(", ");
      return skip(`CREMA-D emotion code ${emotion} unknown (${codes})`);
    }
    if (!SENTENCES.has(sentence)) return skip(`CREMA-D sentence code ${sentence} unknown`);
    if (!LEVELS[level]) return skip(`CREMA-D level ${level} unknown (LO, MD, HI, XX)`);
    return ok({ label, speaker: actor, extras: { sentence, level: LEVELS[level] }, key: m[0] });
  },
};
