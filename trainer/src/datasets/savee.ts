import { SAVEE_EMOTIONS } from "./labels.js";
import { baseName, type CorpusReader, ok, skip, stem } from "./reader.js";

const SPEAKERS = ["DC", "JE", "JK", "KL"];
const FLAT = /^(DC|JE|JK|KL)_([a-z]{1,2})(\d{2})$/;
const FLAT_LOOSE = /^(DC|JE|JK|KL)_[A-Za-z]+\d+$/;
const NESTED = /^([a-z]{1,2})(\d{2})$/;

function parentDir(segments: readonly string[]): string {
  return segments.length >= 2 ? segments[segments.length - 2] : "";
}

/** SAVEE: `DC_a01.wav` or `DC/a01.wav`; four male speakers DC, JE, JK, KL. */
export const saveeReader: CorpusReader = {
  corpus: "savee",
  pattern: "SP_eNN or SP/eNN with SP in DC, JE, JK, KL (e.g. DC_sa03.wav, JK/a01.wav)",
  claims(segments) {
    const s = stem(baseName(segments));
    return FLAT_LOOSE.test(s) || (SPEAKERS.includes(parentDir(segments)) && NESTED.test(s));
  },
  parse(segments) {
    const s = stem(baseName(segments));
    const flat = FLAT.exec(s);
    const nested = SPEAKERS.includes(parentDir(segments)) ? NESTED.exec(s) : null;
    let speaker: string;
    let code: string;
    let sentence: string;
    if (flat) [, speaker, code, sentence] = flat;
    else if (nested) [speaker, code, sentence] = [parentDir(segments), nested[1], nested[2]];
    else return skip(`name does not follow the SAVEE pattern ${this.pattern}`);
    const label = SAVEE_EMOTIONS[code];
    if (!label) {
      const codes = Object.keys(SAVEE_EMOTIONS).join(", ");
      return skip(`SAVEE emotion prefix "${code}" unknown (${codes})`);
    }
    return ok({
      label,
      speaker,
      extras: { sentence, sex: "male" },
      key: `${speaker}_${code}${sentence}`,
    });
  },
};
