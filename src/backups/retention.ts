/**
 * Which snapshots a cluster keeps (pure: data in, plan out). Verified snapshots fill the buckets, as restic's
 * `forget` does: the newest `keepLast`, then the newest of each of the `daily` most recent days that have one, of
 * each of the `weekly` most recent ISO weeks, and of each of the `monthly` most recent months (UTC). Snapshots that
 * are not verified are kept only while they are among the `keepLast` newest of all (so a recent failure can be
 * looked at). The newest verified snapshot is never deleted, whatever the policy says.
 */

/** A retention policy; zero turns a bucket off. */
export interface RetentionPolicy {
  keepLast: number;
  daily: number;
  weekly: number;
  monthly: number;
}

/** What retention needs of a snapshot. */
export interface RetainedSnapshot {
  id: string;
  takenAt: string;
  verified: boolean;
}

/** The plan: what stays (with why) and what goes, newest first. */
export interface RetentionPlan {
  keep: { id: string; reasons: string[] }[];
  remove: string[];
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function month(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** ISO 8601 week (`2026-W49`): weeks start on Monday; the week belongs to the year of its Thursday. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = (t.getUTCDay() + 6) % 7;
  t.setUTCDate(t.getUTCDate() - weekday + 3);
  const firstThursday = new Date(Date.UTC(t.getUTCFullYear(), 0, 4));
  const week = 1 + Math.round(((t.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Plans retention for one cluster's snapshots (any order in; newest first out). */
export function planRetention(snapshots: RetainedSnapshot[], policy: RetentionPolicy): RetentionPlan {
  const sorted = [...snapshots].sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>(sorted.map((s) => [s.id, []]));
  const why = (id: string, reason: string) => reasons.get(id)!.push(reason);
  sorted.slice(0, policy.keepLast).forEach((s, i) => why(s.id, `last ${i + 1}`));
  const verified = sorted.filter((s) => s.verified);
  const bucket = (count: number, name: string, key: (d: Date) => string) => {
    const seen = new Set<string>();
    for (const s of verified) {
      if (seen.size >= count) break;
      const k = key(new Date(s.takenAt));
      if (seen.has(k)) continue;
      seen.add(k);
      why(s.id, `${name} ${k}`);
    }
  };
  bucket(policy.daily, 'daily', day);
  bucket(policy.weekly, 'weekly', isoWeek);
  bucket(policy.monthly, 'monthly', month);
  if (verified[0]) why(verified[0].id, 'newest verified');
  return {
    keep: sorted.filter((s) => reasons.get(s.id)!.length > 0).map((s) => ({ id: s.id, reasons: reasons.get(s.id)! })),
    remove: sorted.filter((s) => reasons.get(s.id)!.length === 0).map((s) => s.id),
  };
}

/** When a cluster's snapshots are stale: its newest verified one is older than `staleAfterMs` (or there is none). */
export function staleness(snapshots: RetainedSnapshot[], staleAfterMs: number, now: Date): { stale: boolean; newest?: RetainedSnapshot; ageMs?: number } {
  const newest = [...snapshots].filter((s) => s.verified).sort((a, b) => b.takenAt.localeCompare(a.takenAt))[0];
  if (!newest) return { stale: true };
  const ageMs = now.getTime() - new Date(newest.takenAt).getTime();
  return { stale: ageMs > staleAfterMs, newest, ageMs };
}
