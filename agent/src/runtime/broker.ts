import type { AgentConfig } from "../config/index.js";
import { type EmbeddedBroker, isMqttError, startEmbeddedBroker } from "../mqtt/index.js";
import type { Logger } from "./types.js";

/** The broker the agent publishes to: the configured one, or an embedded one it started. */
export interface BrokerChoice {
  url: string;
  /** Present when the agent runs the broker itself (mqtt.url empty); closed on stop. */
  embedded?: EmbeddedBroker;
}

export interface BrokerOptions {
  /**
   * When the embedded broker's port is taken, listen on a free port instead (with a warning) of
   * failing. For demos and tests on a machine that runs a broker already; a service should fail,
   * since its clients expect the configured port.
   */
  anyPortIfBusy?: boolean;
}

/**
 * mqtt.url when set; otherwise starts the embedded broker on 127.0.0.1:mqtt.embeddedPort and
 * says so in the log, with the URL to subscribe to.
 */
export async function chooseBroker(
  config: AgentConfig,
  logger: Logger,
  opts: BrokerOptions = {},
): Promise<BrokerChoice> {
  if (config.mqtt.url !== "") return { url: config.mqtt.url };
  const start = (port: number) =>
    startEmbeddedBroker({ host: "127.0.0.1", port, logger: silentInfo(logger) });
  let broker: EmbeddedBroker;
  try {
    broker = await start(config.mqtt.embeddedPort);
  } catch (err) {
    const busy =
      isMqttError(err) && (err.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE";
    if (!(opts.anyPortIfBusy && busy)) throw err;
    logger.warn("embedded MQTT broker: port taken, using a free one", {
      port: config.mqtt.embeddedPort,
      error: (err as Error).message,
    });
    broker = await start(0);
  }
  const topic = `${config.mqtt.baseTopic}/${config.device.id}/#`;
  logger.info(`no mqtt.url configured: embedded MQTT broker at ${broker.url}`, {
    url: broker.url,
    listen: `${broker.host}:${broker.port}`,
    watch: `mosquitto_sub -h ${broker.host} -p ${broker.port} -t '${topic}' -v`,
  });
  return { url: broker.url, embedded: broker };
}

/** The broker's own "listening" line would repeat ours; keep its warnings and errors. */
function silentInfo(logger: Logger): Logger {
  return {
    debug: (m, f) => logger.debug(m, f),
    info: (m, f) => logger.debug(m, f),
    warn: (m, f) => logger.warn(m, f),
    error: (m, f) => logger.error(m, f),
  };
}
