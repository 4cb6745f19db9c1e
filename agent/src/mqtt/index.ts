/** MQTT: topics, Home Assistant discovery, the persistent outbox, the publisher, a local broker. */

export {
  componentDiscovery,
  DEFAULT_DISCOVERY_PREFIX,
  type DiscoveryInput,
  type DiscoveryMessage,
  type DiscoveryMode,
  deviceDiscovery,
  deviceDiscoveryTopic,
  discoveryMessages,
  discoveryRemoval,
  eventTypes,
  haStatusTopic,
  MANUFACTURER,
  type ModelInfo,
  PAYLOAD_AVAILABLE,
  PAYLOAD_NOT_AVAILABLE,
  UNKNOWN_LABEL,
} from "./discovery.js";
export {
  type EmbeddedBroker,
  type EmbeddedBrokerOptions,
  startEmbeddedBroker,
} from "./embedded-broker.js";
export { isMqttError, MqttError, type MqttErrorCode } from "./errors.js";
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_MESSAGES,
  OUTBOX_FILE,
  OUTBOX_LOCK,
  type OutboundMessage,
  Outbox,
  type OutboxLimits,
  type OutboxOptions,
  type OutboxStats,
  type QoS,
  type QueuedMessage,
} from "./outbox.js";
export { emotionPayload, statusPayload } from "./payloads.js";
export {
  type MessageHandler,
  MqttPublisher,
  type MqttPublisherOptions,
  type PublisherStats,
  readTls,
  type TlsFiles,
} from "./publisher.js";
export {
  buildTopics,
  DEFAULT_BASE_TOPIC,
  fleetModelTopic,
  type TopicConfig,
  type Topics,
  validateBaseTopic,
  validateDeviceId,
  validateFleet,
} from "./topics.js";
