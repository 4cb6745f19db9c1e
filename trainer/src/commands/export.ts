import { type Command, intOption, UsageError } from "@ser-edge/agent/cli-kit";
import { exportRun } from "../export/pipeline.js";
import { CALIBRATION_METHODS, type CalibrationMethod } from "../quantize/calibrate.js";
import type { ActivationType } from "../quantize/qdq.js";

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

export const exportCommand: Command = {
  name: "export",
  summary: "turn a training run into a model bundle: ONNX, int8, manifest",
  usage: `Usage: ser-trainer export RUN_DIR --out BUNDLE_DIR [options]

Exports the run's model to ONNX (opset 17), checks it in ONNX Runtime against the run's own
validation result, quantizes it to int8 (static, QDQ; calibration on training clips) and writes a
bundle: model.onnx + manifest.json (labels, feature parameters, normalisation, metrics, hashes,
reference inputs with expected outputs). Sign it afterwards with \`ser-trainer sign\`.

Options:
  --out DIR              bundle directory (created; an existing bundle there is replaced)
  --name NAME            model name (default ser-edge-<arch>)
  --version X.Y.Z        model version (default 0.1.0)
  --fp32                 no quantization: an fp32 bundle
  --calibration M        auto (default: try each, keep the best validation UAR) or one of
                         ${CALIBRATION_METHODS.join(", ")}
  --activations uint8|int8   activation type (default uint8: ONNX Runtime's x86 kernels are u8s8)
  --calibration-clips N  training clips to calibrate on (default 256)
  --metrics-from BUNDLE  take metrics from this bundle (same recipe, validation speakers held
                         out): for a final model trained on every speaker
  --data DIR             the run's corpus directory, if it moved (repeatable)
  --cache DIR            decoded-audio and feature cache (default .cache/ser-edge)
`,
  options: {
    out: { type: "string" },
    name: { type: "string" },
    version: { type: "string", default: "0.1.0" },
    fp32: { type: "boolean", default: false },
    calibration: { type: "string", default: "auto" },
    activations: { type: "string", default: "uint8" },
    "calibration-clips": { type: "string" },
    "metrics-from": { type: "string" },
    data: { type: "string", multiple: true },
    cache: { type: "string", default: ".cache/ser-edge" },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError("give exactly one run directory");
    const out = values.out as string | undefined;
    if (!out) throw new UsageError("give the bundle directory with --out");
    const version = values.version as string;
    if (!SEMVER.test(version)) throw new UsageError(`--version must be X.Y.Z, got "${version}"`);
    const calibration = values.calibration as string;
    if (calibration !== "auto" && !CALIBRATION_METHODS.includes(calibration as CalibrationMethod)) {
      throw new UsageError(
        `--calibration must be auto or one of ${CALIBRATION_METHODS.join(", ")}`,
      );
    }
    const activations = values.activations as ActivationType;
    if (activations !== "uint8" && activations !== "int8") {
      throw new UsageError("--activations must be uint8 or int8");
    }
    const log = (line: string) => io.err(`${line}\n`);
    const result = await exportRun(
      {
        runDir: positionals[0],
        outDir: out,
        name: (values.name as string | undefined) ?? "",
        version,
        int8: !values.fp32,
        calibration: calibration as CalibrationMethod | "auto",
        activations,
        calibrationClips: intOption(values["calibration-clips"], "calibration-clips", 256),
        ...(values.data ? { data: values.data as string[] } : {}),
        cacheDir: values.cache as string,
        ...(values["metrics-from"] ? { metricsFrom: values["metrics-from"] as string } : {}),
      },
      log,
    );
    const m = result.manifest;
    const uar = m.metrics.validation?.uar;
    io.out(
      `${out}: ${m.name} ${m.version}, ${m.quantization.kind}, ${m.model.bytes} bytes ` +
        `(fp32 ${result.fp32Bytes})${uar === undefined ? "" : `, validation UAR ${(100 * uar).toFixed(1)}%`}\n`,
    );
    return 0;
  },
};
