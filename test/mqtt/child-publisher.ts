// Run by publisher.test.ts as a separate process: a publisher whose broker is unreachable queues
// events in its outbox, says so on stdout, and waits to be killed (SIGKILL: no clean shutdown).
import { MqttPublisher } from "../../agent/src/mqtt/index.js";
import { emotionEvent, MODEL, memoryLogger } from "./helpers.js";

const [url, outboxDir, count] = process.argv.slice(2);
const publisher = new MqttPublisher({
  url,
  deviceId: "test-pi",
  model: MODEL,
  outboxDir,
  reconnectPeriodMs: 200,
  logger: memoryLogger("child"),
});
publisher.start();
for (let i = 0; i < Number(count); i++) publisher.publishEmotion(emotionEvent(i));
process.stdout.write(`queued ${publisher.stats().depth}\n`);
setInterval(() => {}, 1000);
