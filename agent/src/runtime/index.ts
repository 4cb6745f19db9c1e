/** The agent's main job (`ser-agent run`): audio → voice activity → model → MQTT, as a service. */

export {
  Agent,
  type AgentOptions,
  describeSource,
  type EventTiming,
  type Publisher,
  type PublisherContext,
} from "./agent.js";
export { type BrokerChoice, type BrokerOptions, chooseBroker } from "./broker.js";
export {
  type LoadClassifierOptions,
  loadClassifier,
  ModelClassifier,
  type UtteranceClassifier,
} from "./classifier.js";
export { SampleClock } from "./clock.js";
export {
  createUtteranceStream,
  segmenterOptions,
  type UtteranceStream,
  utteranceStream,
} from "./detector.js";
export { clockTime, type EchoOptions, EchoSubscriber, formatEvent } from "./echo.js";
export { CpuMeter, rssMb } from "./health.js";
export {
  InferenceQueue,
  type InferenceQueueOptions,
  type InferenceQueueStats,
} from "./inference-queue.js";
export { type PlaylistEntry, type PlaylistOptions, PlaylistSource } from "./playlist.js";
export type { AgentStatus, EmotionEvent, Logger } from "./types.js";
