import { timingSafeEqual } from "node:crypto";
import { createServer, type Socket } from "node:net";
import type { AedesOptions } from "aedes";
import type { Logger } from "../runtime/types.js";
import { MqttError } from "./errors.js";

/**
 * A small MQTT broker inside the agent (aedes, in memory), for setups without one: Node-RED or
 * Home Assistant connect to it, and the agent's own publisher uses it like any other broker.
 * Retained messages and sessions live in memory only and end with the process.
 */

export interface EmbeddedBrokerOptions {
  /** Default "127.0.0.1" (this machine only); "0.0.0.0" lets the network in. */
  host?: string;
  /** Default 0: a free port, reported in `url`/`port`. */
  port?: number;
  /** When both are set, clients must log in with them. */
  username?: string;
  password?: string;
  logger?: Logger;
}

export interface EmbeddedBroker {
  /** mqtt://host:port, for MqttPublisher's `url`. */
  url: string;
  host: string;
  port: number;
  /** Disconnects every client and stops listening. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

function sameSecret(a: string, b: Buffer | undefined): boolean {
  const want = Buffer.from(a, "utf8");
  return b !== undefined && b.length === want.length && timingSafeEqual(b, want);
}

export async function startEmbeddedBroker(
  opts: EmbeddedBrokerOptions = {},
): Promise<EmbeddedBroker> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 0;
  const { username, password, logger } = opts;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MqttError("invalid-option", `embedded broker port ${port}`, "must be 0 to 65535");
  }
  if ((username === undefined) !== (password === undefined)) {
    throw new MqttError(
      "invalid-option",
      "embedded broker",
      "a login needs both username and password; set both or neither",
    );
  }
  const brokerOpts: AedesOptions = {};
  if (username !== undefined && password !== undefined) {
    brokerOpts.authenticate = (_client, user, pass, done) => {
      const ok = user === username && sameSecret(password, pass as Buffer | undefined);
      if (ok) {
        done(null, true);
        return;
      }
      const err = Object.assign(new Error("bad username or password"), { returnCode: 4 as const });
      done(err, false);
    };
  } else if (!LOOPBACK.has(host)) {
    logger?.warn("embedded MQTT broker reachable from the network without a login", { host });
  }
  // Loaded only here: a device publishing to its own broker never pays for aedes (~6 MiB).
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker(brokerOpts);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  broker.on("clientError", (client, err) => {
    logger?.debug("embedded broker: client error", { client: client.id, error: err.message });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MqttError(
      "broker-listen",
      `embedded broker ${host}:${port}`,
      `cannot listen (${code}); ${code === "EADDRINUSE" ? "another broker already uses this port: point the agent at it, or choose another port" : "check the host address and port"}`,
      { cause: err },
    );
  }
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  logger?.info("embedded MQTT broker listening", { host, port: bound });
  let closing: Promise<void> | undefined;
  return {
    url: `mqtt://${urlHost}:${bound}`,
    host,
    port: bound,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await stopped;
        logger?.info("embedded MQTT broker stopped", { port: bound });
      })();
      return closing;
    },
  };
}
