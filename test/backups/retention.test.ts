import { isoWeek, planRetention, staleness, type RetainedSnapshot } from '../../src/backups/retention';

/** Snapshots that failed their verification in the generated history. */
const FAILED = ['2026-11-30T18:00:00.000Z', '2026-10-31T18:00:00.000Z', '2026-11-22T12:00:00.000Z'];

/** A snapshot every 6 hours from 2026-09-01 to 2026-12-01 18:00 (UTC), a few of which failed their verification. */
function history(): RetainedSnapshot[] {
  const out: RetainedSnapshot[] = [];
  for (let t = Date.UTC(2026, 8, 1); t <= Date.UTC(2026, 11, 1, 18); t += 6 * 3_600_000) {
    const at = new Date(t).toISOString();
    out.push({ id: `c-${at}`, takenAt: at, verified: !FAILED.includes(at) });
  }
  return out;
}

describe('retention', () => {
  it('keeps the last N, the newest verified of each recent day, ISO week and month, and deletes the rest', () => {
    const snaps = history();
    const plan = planRetention(snaps, { keepLast: 3, daily: 4, weekly: 3, monthly: 3 });
    const kept = plan.keep.map((k) => `${k.id.slice(2)} ${k.reasons.join(', ')}`);
    expect(kept).toEqual([
      '2026-12-01T18:00:00.000Z last 1, daily 2026-12-01, weekly 2026-W49, monthly 2026-12, newest verified',
      '2026-12-01T12:00:00.000Z last 2',
      '2026-12-01T06:00:00.000Z last 3',
      // 11-30 18:00 failed: the day and the month keep the newest verified one.
      '2026-11-30T12:00:00.000Z daily 2026-11-30, monthly 2026-11',
      '2026-11-29T18:00:00.000Z daily 2026-11-29, weekly 2026-W48',
      '2026-11-28T18:00:00.000Z daily 2026-11-28',
      '2026-11-22T18:00:00.000Z weekly 2026-W47',
      '2026-10-31T12:00:00.000Z monthly 2026-10',
    ]);
    expect(plan.remove.length).toBe(snaps.length - kept.length);
    // Nothing is both kept and removed, and nothing is lost.
    expect(new Set([...plan.keep.map((k) => k.id), ...plan.remove]).size).toBe(snaps.length);
  });

  it('never deletes the newest verified snapshot, even when newer ones failed and the policy keeps only one', () => {
    const snaps: RetainedSnapshot[] = [
      { id: 'old', takenAt: '2026-11-01T00:00:00Z', verified: true },
      { id: 'good', takenAt: '2026-11-02T00:00:00Z', verified: true },
      { id: 'failed-1', takenAt: '2026-11-03T00:00:00Z', verified: false },
      { id: 'failed-2', takenAt: '2026-11-04T00:00:00Z', verified: false },
    ];
    const plan = planRetention(snaps, { keepLast: 1, daily: 0, weekly: 0, monthly: 0 });
    expect(plan.keep).toEqual([
      { id: 'failed-2', reasons: ['last 1'] },
      { id: 'good', reasons: ['newest verified'] },
    ]);
    expect(plan.remove).toEqual(['failed-1', 'old']);
  });

  it('numbers ISO weeks as ISO 8601 does at the turn of the year', () => {
    expect(isoWeek(new Date('2026-12-31T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2027-01-03T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2027-01-04T00:00:00Z'))).toBe('2027-W01');
    expect(isoWeek(new Date('2025-12-29T00:00:00Z'))).toBe('2026-W01');
  });

  it('calls a cluster stale when its newest verified snapshot is older than the policy allows, or it has none', () => {
    const now = new Date('2026-12-02T00:00:00Z');
    const snaps: RetainedSnapshot[] = [
      { id: 'a', takenAt: '2026-12-01T00:00:00Z', verified: true },
      { id: 'b', takenAt: '2026-12-01T20:00:00Z', verified: false },
    ];
    expect(staleness(snaps, 25 * 3_600_000, now)).toMatchObject({ stale: false, newest: { id: 'a' } });
    expect(staleness(snaps, 23 * 3_600_000, now)).toMatchObject({ stale: true, ageMs: 24 * 3_600_000 });
    expect(staleness([], 1, now)).toEqual({ stale: true });
  });
});
