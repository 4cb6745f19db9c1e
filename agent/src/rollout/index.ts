/** Remote model rollout: signed bundles over MQTT, checks, durable store, probation, rollback. */
export {
  ROLLBACK_TYPE,
  type RollbackAuthorization,
  signRollback,
  verifyRollback,
} from "./authorization.js";
export { type Candidate, type CandidateContext, checkCandidate, envelopeId } from "./candidate.js";
export {
  type DecodedEnvelope,
  decodeEnvelope,
  ENVELOPE_FORMAT,
  type EnvelopeHeader,
  encodeEnvelope,
} from "./envelope.js";
export { type RejectCode, RolloutError, type RolloutErrorCode } from "./errors.js";
export {
  type RolloutHost,
  RolloutManager,
  type RolloutOptions,
  type RolloutTransport,
} from "./manager.js";
export { type ModelStateReport, parseModelStateReport, type RolloutStatus } from "./report.js";
export {
  type ActivePointer,
  type BundleRef,
  bundleName,
  ModelStore,
  type Probation,
  type StoreState,
} from "./store.js";
