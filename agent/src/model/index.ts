/** Model bundles: the manifest contract, canonical JSON, Ed25519 signatures, reading and writing. */

export { fsyncDir, writeFileAtomic } from "./atomic.js";
export {
  type Bundle,
  checkGraphIo,
  checkGraphShapes,
  checkModelBytes,
  MANIFEST_FILE,
  type ManifestDraft,
  MODEL_FILE,
  manifestText,
  type ReadBundleOptions,
  readBundle,
  readManifest,
  sha256Hex,
  writeBundle,
} from "./bundle.js";
export {
  CanonicalJsonError,
  canonicalJson,
  compareCodePoints,
  signedPayload,
} from "./canonical.js";
export { isModelError, ModelError, type ModelErrorCode } from "./errors.js";
export * from "./manifest.js";
export {
  loadModel,
  MODEL_RUNTIMES,
  ModelRunner,
  type ModelRuntime,
  type RunnerOptions,
  repeatToLength,
} from "./runner.js";
export { selfTest } from "./self-test.js";
export {
  keyIdOf,
  loadPrivateKey,
  loadPublicKeys,
  signManifest,
  verifyManifestSignature,
} from "./signature.js";
export { loadTrustedModel } from "./trusted.js";
export { validateManifest } from "./validate.js";
export { compareVersions, isNewerVersion, isSemver } from "./version.js";
export { UnsupportedModelError, WasmModelEngine } from "./wasm-engine.js";
