import { readFileSync } from "node:fs";
import { UsageError } from "@ser-edge/agent/cli-kit";
import { readTls } from "@ser-edge/agent/mqtt";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";

/** How the trainer reaches the fleet's broker (the options push and fleet status share). */
export interface BrokerOptions {
  url: string;
  username?: string;
  password?: string;
  /** PEM files for mqtts:// */
  ca?: string;
  cert?: string;
  key?: string;
  /** Accept any broker certificate (testing only). */
  insecure?: boolean;
}

export const BROKER_USAGE = `Broker:
  --broker URL        mqtt://host:1883 or mqtts://host:8883 (required)
  --username NAME     broker user; the password comes from $SER_MQTT_PASSWORD or --password-file
  --password-file F   file holding the broker password (a command line is visible in ps)
  --ca FILE           CA certificate (PEM) to verify an mqtts:// broker
  --cert FILE         client certificate (PEM) for brokers that authenticate by certificate
  --cert-key FILE     its private key (PEM)
  --insecure          accept any broker certificate (testing only)
  --base TOPIC        first topic level(s) of the devices (default "ser-edge")
`;

export const BROKER_OPTIONS = {
  broker: { type: "string" },
  username: { type: "string" },
  "password-file": { type: "string" },
  ca: { type: "string" },
  cert: { type: "string" },
  "cert-key": { type: "string" },
  insecure: { type: "boolean" },
  base: { type: "string" },
} as const;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function brokerFromArgs(
  values: Values,
  env: NodeJS.ProcessEnv = process.env,
): BrokerOptions {
  const url = values.broker;
  if (typeof url !== "string" || url === "") throw new UsageError("give --broker URL");
  const str = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  let password = env.SER_MQTT_PASSWORD;
  const file = str("password-file");
  if (file) password = readFileSync(file, "utf8").replace(/\r?\n$/, "");
  const o: BrokerOptions = { url };
  const username = str("username");
  if (username) o.username = username;
  if (password) o.password = password;
  for (const [k, opt] of [
    ["ca", "ca"],
    ["cert", "cert"],
    ["key", "cert-key"],
  ] as const) {
    const v = str(opt);
    if (v) o[k] = v;
  }
  if (values.insecure === true) o.insecure = true;
  return o;
}

/** Connects (one attempt, 10 s), or throws saying what to check. */
export async function connectBroker(b: BrokerOptions, clientId: string): Promise<MqttClient> {
  const opts: IClientOptions = {
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    protocolVersion: 4,
    ...(b.username ? { username: b.username } : {}),
    ...(b.password ? { password: b.password } : {}),
    // The agent's own reading of TLS files, with its errors.
    ...readTls({
      ...(b.ca ? { ca: b.ca } : {}),
      ...(b.cert ? { cert: b.cert } : {}),
      ...(b.key ? { key: b.key } : {}),
      ...(b.insecure ? { rejectUnauthorized: false } : {}),
    }),
  };
  try {
    return await connectAsync(b.url, opts);
  } catch (err) {
    const e = err as Error & { code?: number | string };
    const hint =
      e.code === 4 || e.code === 5
        ? "the broker refused the login: check --username and the password"
        : "check the URL, that the broker runs and, for mqtts://, the certificates";
    throw new Error(`cannot connect to ${b.url} (${e.message}); ${hint}`);
  }
}
