import { createServer } from "node:net";
import type { AudioSource } from "../capture/index.js";
import { loadConfig } from "../config/index.js";
import { createLogger } from "../log/index.js";
import { Agent, type EmotionEvent, type EventTiming, type Logger } from "../runtime/index.js";

/** A free TCP port on 127.0.0.1 (for the agent's embedded broker). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface HarnessOptions {
  /** The model bundle (model.dir). */
  modelDir: string;
  /** The audio input, not started yet. */
  source: AudioSource;
  /** The source plays as fast as the agent takes it (input.fast): CPU per audio-second. */
  fast: boolean;
  /** More settings as arguments, e.g. ["--inference-threads", "2"]. */
  settings?: string[];
  /** Default: errors only, on stderr. */
  logger?: Logger;
}

export interface AgentRun {
  /** Process CPU time (user + system, all threads) from start() to the last event, ms. */
  cpuMs: number;
  /** Wall time over the same span, ms. */
  wallMs: number;
  events: { event: EmotionEvent; timing: EventTiming }[];
  /** Highest resident set size seen during the run (sampled every 100 ms), bytes. */
  rssPeak: number;
}

/**
 * The agent exactly as `ser-agent run` builds it (configuration, model bundle self-tested,
 * energy gate + Silero VAD, inference queue, MQTT publisher) on a given source, publishing to
 * its own embedded broker on a free loopback port: a benchmark never reaches the device's real
 * broker, and the configuration file and SER_* variables of the service are not read.
 */
export class AgentHarness {
  readonly events: AgentRun["events"] = [];

  private constructor(readonly agent: Agent) {}

  /** Builds the agent and prepares it (model loaded, broker up); audio does not flow yet. */
  static async prepare(o: HarnessOptions): Promise<AgentHarness> {
    const port = await freePort();
    const config = loadConfig({
      env: {},
      hostname: "bench",
      args: [
        "--model-dir",
        o.modelDir,
        "--mqtt-embedded-port",
        String(port),
        "--device-id",
        "bench",
        "--input-fast",
        String(o.fast),
        ...(o.settings ?? []),
      ],
    });
    let harness: AgentHarness | undefined;
    const agent = new Agent({
      config,
      source: o.source,
      logger: o.logger ?? createLogger({ level: "error" }),
      // Another process may take the port between freePort() and the broker's listen().
      broker: { anyPortIfBusy: true },
      onEvent: (event, timing) => harness?.events.push({ event, timing }),
    });
    harness = new AgentHarness(agent);
    await agent.prepare();
    return harness;
  }

  /** Starts the audio and waits for the end of the input and for every event to be delivered. */
  async run(settleMs = 60_000): Promise<AgentRun> {
    let rssPeak = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    }, 100);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      await this.agent.start();
      const reason = await this.agent.ended;
      if (reason === "error" || reason === "gave-up") {
        throw new Error(`the agent's audio input ended with "${reason}" (see the log above)`);
      }
      await this.agent.settle(settleMs);
    } finally {
      clearInterval(sampler);
    }
    const cpu = process.cpuUsage(cpu0);
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    return {
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: performance.now() - t0,
      events: this.events,
      rssPeak,
    };
  }

  stop(): Promise<void> {
    return this.agent.stop();
  }
}
