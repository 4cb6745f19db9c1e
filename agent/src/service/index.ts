/** Integration with the service manager: systemd's sd_notify protocol and watchdog. */

export {
  createNotifier,
  type Notifier,
  nullNotifier,
  type Runner,
  type SystemdNotifierOptions,
  startWatchdog,
  watchdogIntervalMs,
} from "./sd-notify.js";
