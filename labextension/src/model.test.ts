import { readFileSync } from 'fs';
import { resolve } from 'path';
import { describe, expect, it } from 'vitest';

import {
  badgeLabel,
  badgeState,
  badgeTitle,
  copyCode,
  describeError,
  EXTENSION_MISSING,
  expiryWording,
  filterDatasets,
  formatCount,
  formatRows,
  formatSize,
  freshnessWording,
  groupByLayer,
  jobMessage,
  limitView,
  loadCellSource,
  previewCaption,
  relativeAge,
  sortDatasets,
  viewOf
} from './model';
import type { IDatasetSummary, IJob } from './types';

const NOW = new Date('2024-08-10T05:15:00Z');

function dataset(
  id: string,
  extra: Partial<IDatasetSummary> = {}
): IDatasetSummary {
  const [layer, name] = id.split('/');
  return {
    id,
    layer,
    name,
    description: `About ${name}`,
    date: '2024-08-10',
    row_count: 100,
    size_bytes: 1000,
    last_modified: '2024-08-10T02:15:00Z',
    update_frequency: 'daily',
    freshness: 'fresh',
    schema_version: '1.0.0',
    ...extra
  };
}

const NINE = [
  dataset('gold/txn_daily', {
    description: 'Daily transaction aggregates by store and region',
    row_count: 15420
  }),
  dataset('gold/product_mix', {
    description: 'Product performance and mix analysis',
    row_count: 50000,
    size_bytes: 4_100_000
  }),
  dataset('gold/basket_patterns', {
    update_frequency: 'weekly',
    freshness: 'stale',
    last_modified: '2024-07-30T00:00:00Z'
  }),
  dataset('gold/substitution_flows', { update_frequency: 'weekly' }),
  dataset('gold/request_behavior', {
    freshness: 'overdue',
    last_modified: '2024-08-05T00:00:00Z'
  }),
  dataset('gold/demographics', { update_frequency: 'weekly', row_count: 500 }),
  dataset('platinum/features_sales_7d', {
    description: '7-day rolling sales features for ML'
  }),
  dataset('platinum/store_perf', { row_count: 200 }),
  dataset('platinum/customer_segments', {
    update_frequency: null,
    freshness: 'unknown'
  })
];

/** The notebook widget's wording (scout_jupyter/widgets/format.py), generated and checked in Python. */
const WIDGET = JSON.parse(
  readFileSync(
    resolve(__dirname, '../../tests/fixtures/wording_cases.json'),
    'utf-8'
  )
);

describe('freshness wording', () => {
  it('says the age and the expected schedule', () => {
    expect(freshnessWording(NINE[0], NOW)).toBe('3 h ago · expected daily');
  });

  it('is word for word the notebook widget’s', () => {
    const now = new Date(WIDGET.now);
    for (const c of WIDGET.freshness_words) {
      expect(freshnessWording(c, now), JSON.stringify(c)).toBe(c.words);
    }
    for (const c of WIDGET.labels) {
      expect(badgeLabel(c.state)).toBe(c.text);
    }
    for (const c of WIDGET.sizes) {
      expect(formatSize(c.bytes)).toBe(c.text);
    }
    expect(WIDGET.freshness_words.length).toBeGreaterThanOrEqual(10);
  });

  it('counts minutes, hours, days, then months', () => {
    expect(relativeAge('2024-08-10T05:14:30Z', NOW)).toBe('just now');
    expect(relativeAge('2024-08-10T05:03:00Z', NOW)).toBe('12 min ago');
    expect(relativeAge('2024-08-09T05:16:00Z', NOW)).toBe('23 h ago');
    expect(relativeAge('2024-08-08T05:16:00Z', NOW)).toBe('1 d ago');
    expect(relativeAge('2024-07-30T00:00:00Z', NOW)).toBe('11 d ago');
    expect(relativeAge('2024-05-01T00:00:00Z', NOW)).toBe('3 mo ago');
  });

  it('says a future time (clock skew) as such', () => {
    expect(relativeAge('2024-08-10T09:20:00Z', NOW)).toBe('in 4 h');
  });

  it('says what it does not know', () => {
    expect(relativeAge('', NOW)).toBe('never');
    expect(relativeAge('not a date', NOW)).toBe('never');
    expect(freshnessWording(NINE[8], NOW)).toBe('3 h ago · no schedule');
  });

  it('shows the server’s answer on the badge, never its own', () => {
    // 11 days old and weekly would be "stale" by the rule; the badge shows what the server said
    expect(badgeLabel(NINE[2].freshness)).toBe('◔ stale');
    expect(badgeLabel('overdue')).toBe('! overdue');
    expect(badgeLabel('something new')).toBe('? unknown');
    expect(badgeState('something new')).toBe('unknown');
    expect(badgeTitle(NINE[4], NOW)).toBe('overdue: 5 d ago · expected daily');
  });
});

describe('numbers', () => {
  it('groups digits without a locale', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(15420)).toBe('15,420');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatRows(1)).toBe('1 row');
    expect(formatRows(50000)).toBe('50,000 rows');
  });

  it('sizes in powers of 1024 like the widget', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(4100)).toBe('4.0 KB');
    expect(formatSize(2_048_576)).toBe('2.0 MB');
    expect(formatSize(150 * 1024 * 1024)).toBe('150 MB');
    expect(formatSize(null)).toBe('—');
  });
});

describe('filtering', () => {
  it('matches every term, case-insensitively, in id, description or freshness', () => {
    expect(filterDatasets(NINE, 'PRODUCT').map(d => d.id)).toEqual([
      'gold/product_mix'
    ]);
    expect(filterDatasets(NINE, 'gold daily').map(d => d.id)).toEqual([
      'gold/txn_daily'
    ]);
    expect(filterDatasets(NINE, 'overdue').map(d => d.id)).toEqual([
      'gold/request_behavior'
    ]);
    expect(filterDatasets(NINE, 'platinum ML').map(d => d.id)).toEqual([
      'platinum/features_sales_7d'
    ]);
  });

  it('keeps everything for an empty query and nothing for a miss', () => {
    expect(filterDatasets(NINE, '  ')).toHaveLength(9);
    expect(filterDatasets(NINE, 'nothing-like-this')).toEqual([]);
  });
});

describe('sorting and grouping', () => {
  it('sorts by name, then each key with the id breaking ties', () => {
    expect(
      sortDatasets(NINE, 'name')
        .map(d => d.name)
        .slice(0, 3)
    ).toEqual(['basket_patterns', 'demographics', 'product_mix']);
    expect(sortDatasets(NINE, 'rows')[0].id).toBe('gold/product_mix');
    expect(sortDatasets(NINE, 'size')[0].id).toBe('gold/product_mix');
    expect(
      sortDatasets(NINE, 'freshness')
        .map(d => d.freshness)
        .slice(0, 3)
    ).toEqual(['overdue', 'stale', 'unknown']);
    const newest = sortDatasets(NINE, 'newest');
    expect(newest[newest.length - 1].id).toBe('gold/basket_patterns');
  });

  it('never changes its input', () => {
    const before = NINE.map(d => d.id);
    sortDatasets(NINE, 'rows');
    expect(NINE.map(d => d.id)).toEqual(before);
  });

  it('groups gold, then platinum, then other layers alphabetically', () => {
    const extra = [
      ...NINE,
      dataset('gold/x'),
      { ...dataset('gold/y'), layer: 'bronze', id: 'bronze/y' }
    ];
    const groups = groupByLayer(sortDatasets(extra, 'name'));
    expect(groups.map(g => g.layer)).toEqual(['gold', 'platinum', 'bronze']);
    expect(groups[0].datasets).toHaveLength(7);
    expect(groups[1].datasets.map(d => d.name)).toEqual([
      'customer_segments',
      'features_sales_7d',
      'store_perf'
    ]);
  });

  it('drops empty groups from the view', () => {
    const view = viewOf(NINE, 'store_perf', 'name');
    expect(view).toEqual([{ layer: 'platinum', datasets: [NINE[7]] }]);
  });

  it('renders a first page of a long view and counts the rest', () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      dataset(
        `${i < 30 ? 'gold' : 'platinum'}/set_${String(i).padStart(4, '0')}`
      )
    );
    const { groups, hidden } = limitView(viewOf(many, '', 'name'), 50); // not ROWS_PER_PAGE: any limit
    expect(groups.map(g => [g.layer, g.datasets.length])).toEqual([
      ['gold', 30],
      ['platinum', 20]
    ]);
    expect(hidden).toBe(70);
    expect(limitView(viewOf(NINE, '', 'name'), 50)).toEqual({
      groups: viewOf(NINE, '', 'name'),
      hidden: 0
    });
  });

  it('filters and groups 1,000 datasets', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      dataset(
        `${i % 2 ? 'gold' : 'platinum'}/set_${String(i).padStart(4, '0')}`
      )
    );
    const view = viewOf(many, 'set_09', 'name');
    expect(view.reduce((n, g) => n + g.datasets.length, 0)).toBe(100);
  });
});

describe('cells and clipboard', () => {
  it('loads with %scout, loading the extension first when needed', () => {
    expect(loadCellSource('gold/product_mix', true)).toBe(
      '%scout load gold/product_mix'
    );
    expect(loadCellSource('gold/product_mix', false)).toBe(
      '%load_ext scout_jupyter\n%scout load gold/product_mix'
    );
  });

  it('refuses to write a cell for anything but a dataset id', () => {
    expect(() => loadCellSource('gold/x; rm -rf', true)).toThrow(
      /Invalid dataset id/
    );
    expect(() => loadCellSource('silver/x', true)).toThrow(
      /Invalid dataset id/
    );
  });

  it('copies Python that loads the dataset', () => {
    expect(copyCode('gold/txn_daily')).toBe(
      'import scout_jupyter as scout\ntxn_daily = scout.load("gold/txn_daily")'
    );
  });

  it('says when a signed URL expires', () => {
    expect(expiryWording('2024-08-10T06:15:00Z', NOW)).toBe(
      'expires in 1 h (06:15 UTC)'
    );
    expect(expiryWording('2024-08-10T05:25:00Z', NOW)).toBe(
      'expires in 10 min (05:25 UTC)'
    );
    // a URL signed for an hour, read a moment later, still says an hour
    expect(expiryWording('2024-08-10T06:14:58Z', NOW)).toBe(
      'expires in 1 h (06:14 UTC)'
    );
    expect(expiryWording('2024-08-11T05:15:00Z', NOW)).toBe(
      'expires in 24 h (05:15 UTC)'
    );
    expect(expiryWording('2024-08-17T05:15:00Z', NOW)).toBe(
      'expires in 7 d (05:15 UTC)'
    );
    expect(expiryWording('2024-08-10T05:00:00Z', NOW)).toBe(
      'expired (05:00 UTC)'
    );
    expect(expiryWording('garbage', NOW)).toBe('expiry unknown');
  });

  it('captions a preview', () => {
    expect(previewCaption(50, 50000)).toBe(
      'Showing the first 50 of 50,000 rows'
    );
    expect(previewCaption(3, 3)).toBe('All 3 rows');
  });
});

describe('jobs and errors', () => {
  const job = (extra: Partial<IJob>): IJob => ({
    job_id: 'j1',
    state: 'running',
    progress: 0.42,
    datasets: [
      {
        id: 'gold/txn_daily',
        step: 'upload',
        state: 'running',
        bytes_uploaded: 1500,
        error: null
      },
      {
        id: 'gold/demographics',
        step: 'export',
        state: 'queued',
        bytes_uploaded: 0,
        error: null
      }
    ],
    started_at: '2024-08-10T05:00:00Z',
    finished_at: null,
    ...extra
  });

  it('words every state of a publish job', () => {
    expect(jobMessage(job({ state: 'queued', progress: 0 }))).toBe(
      'Publish queued (2 datasets)'
    );
    expect(jobMessage(job({}))).toBe('Publishing 2 datasets: 42%');
    expect(jobMessage(job({ state: 'succeeded', progress: 1 }))).toBe(
      'Published 2 datasets (1.5 KB uploaded)'
    );
    const unchanged = job({ state: 'succeeded', progress: 1 });
    unchanged.datasets.forEach(d => (d.bytes_uploaded = 0));
    expect(jobMessage(unchanged)).toBe(
      'Published 2 datasets (unchanged: nothing uploaded)'
    );
    const failed = job({ state: 'failed' });
    failed.datasets[1].error = 'Checksum validation failed for x';
    expect(jobMessage(failed)).toBe(
      'Publish failed: gold/demographics: Checksum validation failed for x'
    );
    expect(
      jobMessage(job({ state: 'failed', datasets: [], error: 'no warehouse' }))
    ).toBe('Publish failed: no warehouse');
  });

  it('passes the server’s message through', () => {
    expect(
      describeError(429, {
        error: 'rate_limited',
        message: 'Rate limit exceeded: retry in 42 s'
      })
    ).toEqual({
      code: 'rate_limited',
      message: 'Rate limit exceeded: retry in 42 s'
    });
  });

  it('says the server extension is missing when a /scout route is unknown', () => {
    expect(describeError(404, '<html>404: Not Found</html>')).toEqual({
      code: 'extension_missing',
      message: EXTENSION_MISSING
    });
    expect(EXTENSION_MISSING).toContain(
      'jupyter server extension enable scout_jupyter'
    );
    // a JSON 404 from the extension is a real "not found", not a missing extension
    expect(
      describeError(404, {
        error: 'dataset_not_found',
        message: 'Dataset not found: gold/x'
      }).code
    ).toBe('dataset_not_found');
  });

  it('names network failures and bare HTTP errors', () => {
    expect(describeError(0, null).code).toBe('network_error');
    expect(describeError(502, 'Bad Gateway')).toEqual({
      code: 'http_error',
      message: 'The Jupyter server answered HTTP 502'
    });
  });
});
