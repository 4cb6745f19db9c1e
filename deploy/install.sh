#!/usr/bin/env bash
# shellcheck disable=SC2016  # the single-quoted `node -e` programs are JavaScript
# Installs (or updates, or removes) the ser-edge agent as the systemd service ser-agent.
# Run as root from an unpacked package (ser-agent-<version>-linux-<arch>/deploy/install.sh) or
# from a repository checkout with a built agent. Safe to run again: it updates the application
# and the unit, and changes only the settings given on its command line. `--help` for options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: install.sh [OPTIONS]          install or update, then (re)start the service
       install.sh --uninstall [--purge]

Options (each setting is written to /etc/ser-agent/config.json; settings not named here keep
the value they had):
  --broker URL          MQTT broker (mqtt.url), e.g. mqtt://broker.local:1883.
                        Without one, the agent runs its own broker on 127.0.0.1:1883.
  --device-id ID        this device's topic level and Home Assistant id (device.id);
                        default: the hostname.
  --alsa-device DEV     microphone, as `arecord -L` names it (input.alsaDevice),
                        e.g. plughw:CARD=Device,DEV=0.
  --trust-key FILE      accept only models signed by this Ed25519 public key (PEM, from
                        `ser-trainer keygen`); copied to /etc/ser-agent/trusted-keys/ and
                        model.trustedKeys set to that directory. Repeatable.
  --set KEY=VALUE       any other setting (`ser-agent config --docs` lists them), e.g.
                        --set mqtt.username=kitchen --set log.level=debug. VALUE is read as
                        JSON when it parses (numbers, true/false), else as text. Repeatable.
                        Not for mqtt.password: a command line is visible to every user (ps);
                        edit /etc/ser-agent/config.json for that.
  --node PATH           Node.js >= 20 to run the agent with (default: `node` on PATH).
  --no-apt              do not install alsa-utils with apt-get when arecord is missing.
  --no-start            install and enable, but do not (re)start the service now.
  --uninstall           stop and remove the service, the application, /etc/ser-agent and the
                        ser-agent user; keeps the state directory /var/lib/ser-edge (queued
                        events, rolled-out models) unless --purge is given too.
  --purge               with --uninstall: remove /var/lib/ser-edge as well.
  -h, --help            this text.

Environment: DESTDIR=DIR stages every file under DIR instead of / and skips what would change
the running system (user, ownership, systemctl, apt-get); no root needed then.
SER_INSTALL_FAKE=CMD runs those system commands as `CMD command args...` instead (tests).
EOF
}

APP_REL=/opt/ser-agent
ETC_REL=/etc/ser-agent
UNIT_REL=/etc/systemd/system/ser-agent.service
STATE_REL=/var/lib/ser-edge
SERVICE=ser-agent.service
USER_NAME=ser-agent

ROOT=${DESTDIR:-}
ROOT=${ROOT%/}
APP=$ROOT$APP_REL
ETC=$ROOT$ETC_REL
UNIT=$ROOT$UNIT_REL

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "==> $*"; }

# Every command that changes the running system (users, ownership, packages, systemd) goes
# through here: run for real, handed to $SER_INSTALL_FAKE (tests), or skipped under DESTDIR.
sys() {
  if [ -n "${SER_INSTALL_FAKE:-}" ]; then
    "$SER_INSTALL_FAKE" "$@"
  elif [ -n "$ROOT" ]; then
    echo "    (DESTDIR: skipped: $*)"
  else
    "$@"
  fi
}
# Whether systemctl can be used: a fake stands in for systemd; otherwise systemd must be PID 1
# (sd_booted(3)'s test), not the case in a container or a chroot.
have_systemd() {
  [ -n "${SER_INSTALL_FAKE:-}" ] || { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
}

# ---------------------------------------------------------------------------------------------
# Arguments

broker="" device_id="" alsa_device="" node_opt="" uninstall=0 purge=0 apt=1 start=1
trust_keys=() sets=()
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value; see --help."; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    --broker) need_value "$@"; broker=$2; shift 2 ;;
    --device-id) need_value "$@"; device_id=$2; shift 2 ;;
    --alsa-device) need_value "$@"; alsa_device=$2; shift 2 ;;
    --trust-key) need_value "$@"; trust_keys+=("$2"); shift 2 ;;
    --set) need_value "$@"; sets+=("$2"); shift 2 ;;
    --node) need_value "$@"; node_opt=$2; shift 2 ;;
    --broker=* | --device-id=* | --alsa-device=* | --trust-key=* | --set=* | --node=*)
      set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    --no-apt) apt=0; shift ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option \"$1\"; see --help." ;;
  esac
done
if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then
  die "--purge only goes with --uninstall."
fi
if [ -z "$ROOT" ] && [ -z "${SER_INSTALL_FAKE:-}" ] && [ "$(id -u)" != 0 ]; then
  die "must run as root: it creates a system user and installs a service. Run it with sudo."
fi

# ---------------------------------------------------------------------------------------------
# Uninstall

if [ "$uninstall" = 1 ]; then
  if have_systemd; then
    say "stopping and disabling $SERVICE"
    sys systemctl disable --now "$SERVICE" || true
  fi
  say "removing $UNIT_REL, $APP_REL and $ETC_REL"
  rm -f "$UNIT"
  rm -rf "$APP" "$APP.new" "$APP.old" "$ETC"
  if have_systemd; then
    sys systemctl daemon-reload
    sys systemctl reset-failed "$SERVICE" 2>/dev/null || true
  fi
  if [ -n "$ROOT" ] && [ -z "${SER_INSTALL_FAKE:-}" ]; then
    echo "    (DESTDIR: skipped: userdel $USER_NAME)"
  elif sys getent passwd "$USER_NAME" >/dev/null; then
    say "removing the user $USER_NAME"
    sys userdel "$USER_NAME"
  fi
  if [ "$purge" = 1 ]; then
    say "removing the state directory $STATE_REL"
    # /var/lib/private/ holds it if the unit ever ran with DynamicUser=.
    rm -rf "$ROOT$STATE_REL" "$ROOT/var/lib/private/ser-edge"
  elif [ -e "$ROOT$STATE_REL" ]; then
    say "kept $STATE_REL (queued events, rolled-out models); --uninstall --purge removes it"
  fi
  say "ser-agent removed"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# What to install, and whether this machine can run it

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Two layouts, each installed as it is: the package (bin/, dist/, wasm/, package.json,
# node_modules/, models/default/ at its top; the agent looks for models/ two levels up from
# dist/config) and a repository checkout (agent/{bin,dist,wasm}, models/default, node_modules/;
# three levels up), of which only what the agent needs is copied.
if [ -f "$SRC/bin/ser-agent.js" ] && [ -d "$SRC/dist" ]; then
  layout=package
  agent_src=$SRC
  entry=$APP_REL/bin/ser-agent.js
elif [ -f "$SRC/agent/bin/ser-agent.js" ]; then
  layout=checkout
  agent_src=$SRC/agent
  entry=$APP_REL/agent/bin/ser-agent.js
else
  die "no agent next to this script (looked for $SRC/bin/ser-agent.js and $SRC/agent/bin/ser-agent.js). Run the install.sh of an unpacked ser-agent package (npm run package), or of a repository checkout after npm run build."
fi
for part in dist/cli.js wasm; do
  [ -e "$agent_src/$part" ] || die "$agent_src/$part is missing: the agent is not built. In a checkout run npm run build; or use a package from npm run package."
done
[ -f "$SRC/models/default/manifest.json" ] ||
  die "$SRC/models/default/manifest.json is missing: the default model must ship with the agent."
[ -d "$SRC/node_modules/onnxruntime-node" ] ||
  die "$SRC/node_modules has no onnxruntime-node: the agent's dependencies are not installed. In a checkout run npm ci --workspace agent --omit=dev; a package from npm run package holds them."

case $(uname -m) in
  aarch64 | arm64) arch=arm64 ;;
  x86_64 | amd64) arch=x64 ;;
  armv7l | armv6l)
    die "this is a 32-bit ARM system ($(uname -m)); the agent needs 64-bit Linux. Install Raspberry Pi OS (64-bit), which runs on every Pi from the 3B and the Zero 2 W on." ;;
  *) die "unsupported machine $(uname -m); the agent runs on arm64 and x86-64 Linux." ;;
esac
if [ -d "$SRC/node_modules/onnxruntime-node/bin/napi-v6/linux" ] &&
  [ ! -d "$SRC/node_modules/onnxruntime-node/bin/napi-v6/linux/$arch" ]; then
  die "this package holds no ONNX Runtime for linux-$arch: it was built for another machine. Use ser-agent-<version>-linux-$arch.tar.gz."
fi

# alsa-utils gives arecord, which the agent runs to read the microphone.
if ! command -v arecord >/dev/null 2>&1; then
  if [ "$apt" = 1 ]; then
    say "installing alsa-utils (arecord)"
    export DEBIAN_FRONTEND=noninteractive
    sys apt-get install -y --no-install-recommends alsa-utils ||
      { sys apt-get update && sys apt-get install -y --no-install-recommends alsa-utils; } ||
      die "could not install alsa-utils with apt-get; install it (apt-get install alsa-utils) and run this again."
  else
    echo "install.sh: warning: arecord is missing and --no-apt was given; the agent cannot read a microphone until alsa-utils is installed." >&2
  fi
fi

NODE_HELP="The agent needs Node.js 20 or later, installed system-wide (the service cannot see home directories, so not nvm's).
  - Debian 13 (trixie) and Raspberry Pi OS based on it: apt-get install nodejs (20.x).
  - Debian 12 (bookworm) and Raspberry Pi OS bookworm: apt-get install nodejs gives 18.x, too old.
    Use NodeSource's repository (arm64 and amd64):
      curl -fsSL https://deb.nodesource.com/setup_22.x -o nodesource_setup.sh
      bash nodesource_setup.sh && apt-get install -y nodejs
    or unpack the linux-arm64 / linux-x64 tarball from https://nodejs.org/en/download into
    /usr/local (tar -xJf node-v22.*.tar.xz -C /usr/local --strip-components=1).
Then run this again (or give --node /path/to/node)."
node=${node_opt:-$(command -v node || true)}
[ -n "$node" ] || die "Node.js not found. $NODE_HELP"
[ -x "$node" ] || die "$node is not an executable. $NODE_HELP"
case $node in /*) ;; *) node=$(cd "$(dirname "$node")" && pwd)/$(basename "$node") ;; esac
case $node in *[[:space:]\|\&\\]*) die "the Node.js path \"$node\" holds white space, | & or a backslash, which ExecStart= cannot take as is; install Node.js under a plain path such as /usr/local/bin/node." ;; esac
node_version=$("$node" -p 'process.versions.node' 2>/dev/null) || die "$node does not run. $NODE_HELP"
[ "${node_version%%.*}" -ge 20 ] || die "$node is Node.js $node_version. $NODE_HELP"
if [ -z "$ROOT" ]; then
  case $(readlink -f "$node") in
    /home/* | /root/* | /run/user/*)
      die "$node is in a home directory ($(readlink -f "$node")), which the service cannot see (ProtectHome=yes). $NODE_HELP" ;;
  esac
fi

# ---------------------------------------------------------------------------------------------
# User

# Primary group ser-agent (owns /etc/ser-agent), supplementary audio (owns /dev/snd/*).
if [ -n "$ROOT" ] && [ -z "${SER_INSTALL_FAKE:-}" ]; then
  echo "    (DESTDIR: skipped: useradd/usermod $USER_NAME)"
elif ! sys getent group audio >/dev/null; then
  die "there is no group \"audio\" (owner of /dev/snd/*); is this a Debian-based system?"
elif sys getent passwd "$USER_NAME" >/dev/null; then
  sys usermod --append --groups audio "$USER_NAME"
else
  say "creating the system user $USER_NAME (groups $USER_NAME, audio)"
  sys useradd --system --user-group --groups audio --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "ser-edge agent" "$USER_NAME"
fi

# ---------------------------------------------------------------------------------------------
# Application: staged beside the old one, then swapped in, so an interrupted update leaves the
# previous version intact (the running agent keeps its open files until restarted).

if [ "$SRC" -ef "$APP" ]; then
  say "running from the installed copy: application left as it is"
else
  say "installing the agent (from a $layout) to $APP_REL"
  if [ -e "$SRC/node_modules/typescript" ]; then
    echo "install.sh: warning: $SRC/node_modules holds development packages; the package from npm run package (or npm ci --workspace agent --omit=dev) is far smaller." >&2
  fi
  rm -rf "$APP.new" "$APP.old"
  if [ "$layout" = package ]; then
    mkdir -p "$(dirname "$APP")"
    cp -a "$SRC" "$APP.new"
  else
    mkdir -p "$APP.new/agent" "$APP.new/models" "$APP.new/deploy"
    for part in bin dist wasm package.json; do
      if [ -e "$agent_src/$part" ]; then cp -a "$agent_src/$part" "$APP.new/agent/"; fi
    done
    cp -a "$SRC/models/default" "$APP.new/models/"
    cp -a "$SRC/node_modules" "$APP.new/"
    # Speech clips for `ser-agent bench` on the board.
    if [ -d "$SRC/demo" ]; then cp -a "$SRC/demo" "$APP.new/"; fi
    for f in ser-agent.service install.sh README.md; do
      if [ -e "$SRC/deploy/$f" ]; then cp -a "$SRC/deploy/$f" "$APP.new/deploy/"; fi
    done
  fi
  chmod -R u=rwX,go=rX "$APP.new"
  chmod 0755 "$APP.new/deploy/install.sh"
  sys chown -R root:root "$APP.new"
  if [ -e "$APP" ]; then mv "$APP" "$APP.old"; fi
  mv "$APP.new" "$APP"
  rm -rf "$APP.old"
fi

# ---------------------------------------------------------------------------------------------
# Configuration: /etc/ser-agent (root:ser-agent 0750) holds config.json with the settings chosen
# here (JSON has no comments, so the defaults are not repeated in it), config.example.json with
# every setting at its default and README.md describing each, both from the installed agent.

install -d -m 0750 "$ETC"
sys chown root:"$USER_NAME" "$ETC"

if [ ${#trust_keys[@]} -gt 0 ]; then
  install -d -m 0750 "$ETC/trusted-keys"
  sys chown root:"$USER_NAME" "$ETC/trusted-keys"
  for key in "${trust_keys[@]}"; do
    [ -f "$key" ] || die "--trust-key $key: no such file; give the .pub file from ser-trainer keygen."
    # The agent reads only *.pub files from a key directory (agent/src/model/signature.ts).
    name=$(basename "$key")
    name=${name%.pem}
    name=${name%.pub}.pub
    "$node" -e '
      const { createPublicKey } = require("node:crypto");
      const text = require("node:fs").readFileSync(process.argv[1], "utf8");
      if (/PRIVATE KEY/.test(text)) {
        console.error(`install.sh: --trust-key ${process.argv[1]} is a private key; give the public key (.pub) and keep this one secret.`);
        process.exit(1);
      }
      try {
        const k = createPublicKey(text);
        if (k.asymmetricKeyType !== "ed25519") throw new Error(`a ${k.asymmetricKeyType} key`);
      } catch (e) {
        console.error(`install.sh: --trust-key ${process.argv[1]} is not an Ed25519 public key in PEM (${e.message}); give the .pub file from ser-trainer keygen.`);
        process.exit(1);
      }' "$key" || exit 1
    install -m 0640 "$key" "$ETC/trusted-keys/$name"
    sys chown root:"$USER_NAME" "$ETC/trusted-keys/$name"
    say "trusting model signing key $name"
  done
fi

# The settings to change, as KEY=JSON lines; merged into the existing file by Node (the one
# JSON tool certainly present), keeping every other setting as it was.
changes=()
[ -n "$broker" ] && changes+=("mqtt.url=$("$node" -p 'JSON.stringify(process.argv[1])' "$broker")")
[ -n "$device_id" ] && changes+=("device.id=$("$node" -p 'JSON.stringify(process.argv[1])' "$device_id")")
[ -n "$alsa_device" ] && changes+=("input.alsaDevice=$("$node" -p 'JSON.stringify(process.argv[1])' "$alsa_device")")
[ ${#trust_keys[@]} -gt 0 ] && changes+=("model.trustedKeys=\"$ETC_REL/trusted-keys\"")
for s in "${sets[@]}"; do
  case $s in *=*) ;; *) die "--set $s: expected KEY=VALUE, e.g. --set log.level=debug." ;; esac
  [ "${s%%=*}" = mqtt.password ] && die "--set mqtt.password: a command line is visible to every user (ps); put the password in $ETC_REL/config.json (\"mqtt\": {\"password\": ...}) instead."
  changes+=("${s%%=*}=$("$node" -p 'try { JSON.stringify(JSON.parse(process.argv[1])) } catch { JSON.stringify(process.argv[1]) }' "${s#*=}")")
done

config=$ETC/config.json
"$node" -e '
  const fs = require("node:fs");
  const [file, out, ...changes] = process.argv.slice(1);
  let config = {};
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    try {
      config = text.trim() === "" ? {} : JSON.parse(text);
    } catch (e) {
      console.error(`install.sh: ${file} is not valid JSON (${e.message}); fix or remove it, then run this again.`);
      process.exit(1);
    }
  }
  for (const change of changes) {
    const at = change.indexOf("=");
    const path = change.slice(0, at).split(".");
    let node = config;
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
      node = node[part];
    }
    node[path[path.length - 1]] = JSON.parse(change.slice(at + 1));
  }
  fs.writeFileSync(out, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o640 });
' "$config" "$config.new" "${changes[@]}"
chmod 0640 "$config.new"
sys chown root:"$USER_NAME" "$config.new"

# The agent itself validates the result (exit 78 and the problems if it would refuse to start)
# before it replaces the old file: as the service user on a real system, so unreadable files
# show up now; under DESTDIR with paths of the staged tree.
check_args=(config --check --config "$config.new")
if [ ${#trust_keys[@]} -gt 0 ] || grep -q "\"trustedKeys\": \"$ETC_REL/trusted-keys\"" "$config.new"; then
  check_args+=(--model-trusted-keys "$ETC/trusted-keys")
fi
if [ -z "$ROOT" ] && [ -z "${SER_INSTALL_FAKE:-}" ]; then
  # From /, which the service user can read (the caller's directory may be /root).
  cd /
  check=(runuser -u "$USER_NAME" -- env -i PATH=/usr/bin:/bin "$node" "$entry")
else
  check=(env -i PATH=/usr/bin:/bin "$node" "$ROOT$entry")
fi
if ! "${check[@]}" "${check_args[@]}" >/dev/null; then
  rm -f "$config.new"
  die "the configuration was not changed: the agent would refuse it (problems above). Correct the option named there and run this again."
fi
mv "$config.new" "$config"

"$node" "$ROOT$entry" config --example >"$ETC/config.example.json"
"$node" "$ROOT$entry" config --docs >"$ETC/README.md"
chmod 0640 "$ETC/config.example.json" "$ETC/README.md"
sys chown root:"$USER_NAME" "$ETC/config.example.json" "$ETC/README.md"

# What the service will run with: the default model must resolve to a bundle in this layout.
effective=$(env -i PATH=/usr/bin:/bin "$node" "$ROOT$entry" config --print --config "$config" "${check_args[@]:4}")
model_dir=$("$node" -e 'console.log(JSON.parse(process.argv[1]).model.dir)' "$effective")
[ -f "$model_dir/manifest.json" ] ||
  die "the installed agent would load its model from $model_dir, which holds no manifest.json; set model.dir (--set model.dir=DIR) to a model bundle."

# ---------------------------------------------------------------------------------------------
# Unit: the shipped one, with this machine's Node.js and the installed entry point.

say "installing $UNIT_REL (ExecStart=$node $entry run)"
install -d -m 0755 "$(dirname "$UNIT")"
sed "s|^ExecStart=.*|ExecStart=$node $entry run|" "$SRC/deploy/ser-agent.service" >"$UNIT.new"
grep -q "^ExecStart=$node $entry run\$" "$UNIT.new" || die "$SRC/deploy/ser-agent.service has no ExecStart= line to set."
chmod 0644 "$UNIT.new"
mv "$UNIT.new" "$UNIT"

if have_systemd; then
  sys systemctl daemon-reload
  sys systemctl enable "$SERVICE" >/dev/null
  if [ "$start" = 1 ]; then
    say "starting $SERVICE (waits until the model is loaded and audio flows)"
    # Type=notify: restart returns once the agent reported READY=1, or fails.
    if ! sys systemctl restart "$SERVICE"; then
      sys journalctl -u "$SERVICE" -n 30 --no-pager >&2 || true
      die "$SERVICE did not start (its last log lines are above). Check the microphone (--alsa-device, see hardware.md) and $ETC_REL/config.json, then run this again or: systemctl restart $SERVICE"
    fi
  fi
else
  say "systemd is not running here (container, chroot or DESTDIR): the service was not enabled or started"
fi

# ---------------------------------------------------------------------------------------------
# How to watch it

"$node" -e '
  const c = JSON.parse(process.argv[1]);
  let host = "127.0.0.1 (on this device)";
  let port = String(c.mqtt.embeddedPort);
  let tls = "";
  if (c.mqtt.url) {
    const u = new URL(c.mqtt.url);
    host = u.hostname;
    port = u.port || (/^(mqtts|tls|wss):/.test(u.protocol) ? "8883" : "1883");
    if (/^(mqtts|tls|wss):/.test(u.protocol)) tls = " --cafile CA.pem";
  }
  const auth = c.mqtt.username ? ` -u ${c.mqtt.username} -P PASSWORD` : "";
  console.log(`
ser-agent installed: device "${c.device.id}", broker ${c.mqtt.url || "embedded, 127.0.0.1:" + port}.
Watch its events (mosquitto-clients):
  mosquitto_sub -h ${host.split(" ")[0]} -p ${port}${auth}${tls} -t "${c.mqtt.baseTopic}/${c.device.id}/#" -v
Its log:       journalctl -u ser-agent -f
Its state:     systemctl status ser-agent
Settings:      /etc/ser-agent/config.json (every setting: /etc/ser-agent/README.md); then
               systemctl restart ser-agent`);
  if (c.input.source === "mic" && c.input.alsaDevice === "default") {
    console.log(`Microphone:    ALSA "default". If that is not your microphone (arecord -l lists the cards),
               run this again with --alsa-device, e.g. --alsa-device plughw:CARD=Device,DEV=0
               (names from arecord -L; hardware.md in the ser-edge repository has the details).`);
  }
' "$effective"
