/**
 * deploy/ser-agent.service's memory settings, which the memory benchmarks apply to the agent
 * they measure (test/deploy/unit.test.ts holds the unit to them): V8's young generation at
 * 1 MiB, two malloc arenas, and freed memory at the top of malloc's heap returned to the system
 * above 128 KiB (a fixed threshold, which glibc otherwise raises as large blocks come and go).
 */
export const SERVICE_MEMORY_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: "--max-semi-space-size=1",
  MALLOC_ARENA_MAX: "2",
  MALLOC_TRIM_THRESHOLD_: "131072",
};
