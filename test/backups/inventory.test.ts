import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateInventory } from '../../src/fleet/schema';

const example = () => parse(readFileSync(join(__dirname, '..', '..', 'examples', 'fleet.yaml'), 'utf8')) as { clusters: { backups?: Record<string, unknown> }[] };

describe('the backups block of the inventory', () => {
  it('reads the example: store, recipients, schedule, retention and staleness with their defaults filled in', () => {
    const { inventory } = validateInventory(example());
    const b = inventory!.clusters.find((c) => c.backups)!.backups!;
    expect(b).toMatchObject({ compression: 'zstd', schedule: '0 */6 * * *', catchupWindow: 600_000, retention: { keepLast: 4, daily: 7 }, staleAfter: 13 * 3_600_000, drill: { schedule: '30 4 * * 0' } });
  });

  it('reports every bad field with its path: credentials in the store URL, a recipient that is not age, a bad cron, a zero duration', () => {
    const doc = example();
    const at = doc.clusters.findIndex((c) => c.backups);
    Object.assign(doc.clusters[at]!.backups!, { store: 's3://key:secret@bucket/p', recipients: ['ssh-ed25519 AAAA'], schedule: 'every hour', staleAfter: '0s', drill: { schedule: '* *' } });
    const { problems } = validateInventory(doc);
    const p = `clusters[${at}].backups`;
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: `${p}.store`, message: 'must not hold credentials (use the environment or an AWS credentials file)' },
        { path: `${p}.recipients[0]`, message: 'must be an age X25519 recipient (age1... as age-keygen prints)' },
        { path: `${p}.schedule`, message: expect.stringMatching(/must be a cron expression with five fields/) as unknown },
        { path: `${p}.staleAfter`, message: '"0s" must be longer than zero' },
        { path: `${p}.drill.schedule`, message: expect.stringMatching(/must be a cron expression/) as unknown },
      ]),
    );
    expect(JSON.stringify(problems)).not.toContain('secret');
  });
});
