/**
 * Semantic versions of models (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], semver 2.0.0 precedence),
 * as the anti-rollback rule compares them. The manifest validator guarantees the form.
 */

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parse(v: string): { core: number[]; pre: string[] } {
  const m = SEMVER.exec(v);
  if (!m) throw new RangeError(`"${v}" is not a semantic version (MAJOR.MINOR.PATCH)`);
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split(".") : [] };
}

/** Negative when a precedes b, 0 when equal in precedence (build metadata ignored), positive after. */
export function compareVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i] - y.core[i];
  // A pre-release precedes its release: 1.1.0-rc.1 < 1.1.0.
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}

/** True for MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]. */
export const isSemver = (v: string) => SEMVER.test(v);

export const isNewerVersion = (candidate: string, current: string) =>
  compareVersions(candidate, current) > 0;
