// librosa 0.11 on this machine, in this run, via ../shared/peer (see shared/peer/README.md).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export interface PeerBench {
  librosa_mfcc_ms_per_audio_s: number;
  librosa_load_48k_ms: number;
}

export async function benchPeer(): Promise<PeerBench | string> {
  const dir = fileURLToPath(new URL("../../shared/peer/", import.meta.url));
  if (!existsSync(`${dir}py`)) return `no ${dir}: librosa figures skipped`;
  try {
    const { stdout } = await promisify(execFile)(`${dir}py`, [`${dir}bench_librosa.py`], {
      timeout: 300_000,
    });
    const mfcc = /mfcc40 ([\d.]+) ms per audio-second/.exec(stdout);
    const load = /polyphase\): ([\d.]+) ms/.exec(stdout);
    if (!mfcc || !load) return `unexpected output from bench_librosa.py:\n${stdout}`;
    return { librosa_mfcc_ms_per_audio_s: Number(mfcc[1]), librosa_load_48k_ms: Number(load[1]) };
  } catch (err) {
    return `librosa bench failed (run ../shared/peer/setup.sh once as root): ${(err as Error).message}`;
  }
}
