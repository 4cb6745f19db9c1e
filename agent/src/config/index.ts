/** The agent's configuration: schema, loading with strict validation, redaction, reference. */

export { configReadme, exampleConfig } from "./docs.js";
export {
  ConfigError,
  type ConfigProblem,
  configFilePath,
  defaultModelDir,
  EX_CONFIG,
  type LoadOptions,
  loadConfig,
  maskUrlPassword,
  redacted,
  sanitiseHostname,
  settingArgs,
  suggestKey,
} from "./load.js";
export {
  type AgentConfig,
  argName,
  CONFIG_FILE_ENV,
  type DiscoveryLayout,
  describeFormat,
  envName,
  type InputSource,
  SCHEMA,
  SETTINGS,
  SETTINGS_BY_KEY,
  type Setting,
  type SettingSpec,
} from "./schema.js";
