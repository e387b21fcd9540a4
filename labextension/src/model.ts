/**
 * The sidebar's logic, free of JupyterLab and the DOM: grouping, filtering, sorting, and every
 * piece of wording (freshness, sizes, expiry, job progress, errors). Unit-tested in model.test.ts.
 *
 * The freshness *answer* comes from the server (`freshness` of each dataset, computed by the one
 * Python function); only the relative age in its wording is computed here, from `last_modified`.
 */

import type { Freshness, IDatasetSummary, IJob } from './types';

export type SortKey = 'name' | 'freshness' | 'newest' | 'rows' | 'size';

export const SORT_LABELS: Record<SortKey, string> = {
  name: 'Name',
  freshness: 'Freshness',
  newest: 'Newest',
  rows: 'Rows',
  size: 'Size'
};

/** Layers in the order the product names them; any other layer follows, alphabetically. */
export const LAYER_ORDER = ['gold', 'platinum'];

export interface ILayerGroup {
  layer: string;
  datasets: IDatasetSummary[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const AGE_UNITS: [number, string][] = [
  [30 * DAY, 'mo'],
  [DAY, 'd'],
  [HOUR, 'h'],
  [MINUTE, 'min']
];

/** What each freshness state reads as without its colour (icon, word), as in the widget. */
export const FRESHNESS_ICONS: Record<string, string> = {
  fresh: '✓',
  stale: '◔',
  overdue: '!',
  unknown: '?'
};

function parseTime(iso: string | null | undefined): number {
  return iso ? Date.parse(iso) : NaN;
}

/**
 * "just now", "12 min ago", "3 h ago", "5 d ago", "3 mo ago", "in 4 h" (a future time);
 * "never" without a valid time. The wording of the notebook widget (widgets/format.py `age`).
 */
export function relativeAge(iso: string | null | undefined, now: Date): string {
  const when = parseTime(iso);
  if (Number.isNaN(when)) {
    return 'never';
  }
  const span = Math.abs(now.getTime() - when);
  if (span < MINUTE) {
    return 'just now';
  }
  const [size, unit] = AGE_UNITS.find(([size]) => span >= size)!;
  const amount = `${Math.floor(span / size)} ${unit}`;
  return when > now.getTime() ? `in ${amount}` : `${amount} ago`;
}

/** The badge's text: an icon and the server's freshness word ("✓ fresh"). */
export function badgeLabel(freshness: Freshness | string): string {
  const state = freshness in FRESHNESS_ICONS ? freshness : 'unknown';
  return `${FRESHNESS_ICONS[state]} ${state}`;
}

/** The state a badge is coloured by: the server's word, or "unknown". */
export function badgeState(freshness: Freshness | string): string {
  return freshness in FRESHNESS_ICONS ? freshness : 'unknown';
}

/** "3 h ago · expected daily" — the same wording as the notebook widget's badge. */
export function freshnessWording(
  dataset: Pick<IDatasetSummary, 'last_modified' | 'update_frequency'>,
  now: Date
): string {
  const expected = dataset.update_frequency
    ? `expected ${dataset.update_frequency}`
    : 'no schedule';
  if (Number.isNaN(parseTime(dataset.last_modified))) {
    return `never updated · ${expected}`;
  }
  return `${relativeAge(dataset.last_modified, now)} · ${expected}`;
}

/** The badge's tooltip and accessible name: "fresh: 3 h ago · expected daily". */
export function badgeTitle(dataset: IDatasetSummary, now: Date): string {
  return `${badgeState(dataset.freshness)}: ${freshnessWording(dataset, now)}`;
}

/** 15420 → "15,420" (no locale: the same text on every machine). */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatRows(n: number): string {
  return `${formatCount(n)} ${n === 1 ? 'row' : 'rows'}`;
}

const SIZE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** "2.0 MB" in powers of 1024, as the widget (and file browsers) say it; "—" when unknown. */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '—';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${Math.trunc(value)} B`;
  }
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ${SIZE_UNITS[unit]}`;
}

// the lower-cased text a dataset is searched in, computed once per dataset object
const searchTexts = new WeakMap<IDatasetSummary, string>();

function searchText(d: IDatasetSummary): string {
  let text = searchTexts.get(d);
  if (text === undefined) {
    text = `${d.id} ${d.description} ${d.freshness}`.toLowerCase();
    searchTexts.set(d, text);
  }
  return text;
}

/** Every term of the query (case-insensitive) must appear in the id, description or freshness. */
export function filterDatasets(
  datasets: IDatasetSummary[],
  query: string
): IDatasetSummary[] {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) {
    return datasets;
  }
  return datasets.filter(d => {
    const text = searchText(d);
    return terms.every(t => text.includes(t));
  });
}

const FRESHNESS_RANK: Record<string, number> = {
  overdue: 0,
  stale: 1,
  unknown: 2,
  fresh: 3
};

function byName(a: IDatasetSummary, b: IDatasetSummary): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A sorted copy; ties fall back to the id, so the order is total and stable. */
export function sortDatasets(
  datasets: IDatasetSummary[],
  key: SortKey
): IDatasetSummary[] {
  const compare: Record<
    SortKey,
    (a: IDatasetSummary, b: IDatasetSummary) => number
  > = {
    name: () => 0,
    freshness: (a, b) =>
      (FRESHNESS_RANK[a.freshness] ?? 2) - (FRESHNESS_RANK[b.freshness] ?? 2),
    newest: (a, b) =>
      (Date.parse(b.last_modified) || 0) - (Date.parse(a.last_modified) || 0),
    rows: (a, b) => b.row_count - a.row_count,
    size: (a, b) => b.size_bytes - a.size_bytes
  };
  const primary = compare[key] ?? compare.name;
  return [...datasets].sort((a, b) => primary(a, b) || byName(a, b));
}

/** Groups by layer (gold, platinum, then others alphabetically), keeping each group's order. */
export function groupByLayer(datasets: IDatasetSummary[]): ILayerGroup[] {
  const groups = new Map<string, IDatasetSummary[]>();
  for (const d of datasets) {
    const list = groups.get(d.layer);
    if (list) {
      list.push(d);
    } else {
      groups.set(d.layer, [d]);
    }
  }
  const rank = (layer: string) => {
    const i = LAYER_ORDER.indexOf(layer);
    return i === -1 ? LAYER_ORDER.length : i;
  };
  return [...groups.keys()]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(layer => ({ layer, datasets: groups.get(layer)! }));
}

/** What the panel shows for a query and sort: filtered, sorted, grouped. */
export function viewOf(
  datasets: IDatasetSummary[],
  query: string,
  sort: SortKey
): ILayerGroup[] {
  return groupByLayer(sortDatasets(filterDatasets(datasets, query), sort));
}

/** Rows rendered at first, and added each time the list is scrolled to its end. */
export const ROWS_PER_PAGE = 30;

/** The first `limit` datasets of a view (groups cut to fit) and how many are left out. */
export function limitView(
  groups: ILayerGroup[],
  limit: number
): { groups: ILayerGroup[]; hidden: number } {
  const out: ILayerGroup[] = [];
  let left = Math.max(0, limit);
  let hidden = 0;
  for (const group of groups) {
    const shown = group.datasets.slice(0, left);
    hidden += group.datasets.length - shown.length;
    left -= shown.length;
    if (shown.length) {
      out.push({ layer: group.layer, datasets: shown });
    }
  }
  return { groups: out, hidden };
}

const DATASET_ID = /^(gold|platinum)\/[a-z0-9_]{1,64}$/;

export function isDatasetId(id: string): boolean {
  return DATASET_ID.test(id);
}

/** The cell Load inserts: `%scout load <id>`, after `%load_ext` when the kernel lacks it. */
export function loadCellSource(id: string, extensionLoaded: boolean): string {
  if (!isDatasetId(id)) {
    throw new Error(`Invalid dataset id ${JSON.stringify(id)}`);
  }
  const load = `%scout load ${id}`;
  return extensionLoaded ? load : `%load_ext scout_jupyter\n${load}`;
}

/** The cell "Open dataset browser" inserts. */
export const BROWSE_CELL_SOURCE =
  'import scout_jupyter as scout\nscout.browse()';

/** Python that loads the dataset, for the clipboard. */
export function copyCode(id: string): string {
  const name = id.split('/')[1] ?? 'df';
  return `import scout_jupyter as scout\n${name} = scout.load(${JSON.stringify(id)})`;
}

/** "expires in 60 min (10:14 UTC)" for a signed URL. */
export function expiryWording(expiresAt: string, now: Date): string {
  const when = Date.parse(expiresAt);
  if (Number.isNaN(when)) {
    return 'expiry unknown';
  }
  const left = when - now.getTime();
  const clock = new Date(when).toISOString().slice(11, 16) + ' UTC';
  if (left <= 0) {
    return `expired (${clock})`;
  }
  const minutes = Math.max(1, Math.round(left / MINUTE));
  const span =
    minutes < 60
      ? `${minutes} min`
      : left < 2 * DAY
        ? `${Math.round((left / HOUR) * 10) / 10} h`
        : `${Math.round(left / DAY)} d`;
  return `expires in ${span} (${clock})`;
}

/** The publish notification's text for a job's state. */
export function jobMessage(job: IJob): string {
  const n = job.datasets.length;
  const what = n === 1 ? '1 dataset' : `${n} datasets`;
  if (job.state === 'succeeded') {
    const uploaded = job.datasets.reduce(
      (s, d) => s + (d.bytes_uploaded || 0),
      0
    );
    return uploaded > 0
      ? `Published ${what} (${formatSize(uploaded)} uploaded)`
      : `Published ${what} (unchanged: nothing uploaded)`;
  }
  if (job.state === 'failed') {
    const failed = job.datasets
      .filter(d => d.error)
      .map(d => `${d.id}: ${d.error}`);
    const reason = failed.length
      ? failed.join('; ')
      : job.error || 'unknown error';
    return `Publish failed: ${reason}`;
  }
  const percent = Math.round(Math.max(0, Math.min(1, job.progress || 0)) * 100);
  return job.state === 'queued'
    ? `Publish queued (${what})`
    : `Publishing ${what}: ${percent}%`;
}

export const EXTENSION_MISSING =
  'The Scout server extension (scout_jupyter) is not enabled on this Jupyter server. ' +
  'Install scout-jupyter in the server’s environment, run ' +
  'jupyter server extension enable scout_jupyter, and restart Jupyter.';

export interface IDescribedError {
  /** the server's error code, or `extension_missing` / `network_error` / `http_error` */
  code: string;
  message: string;
}

/**
 * One user-facing message for a failed request: the server's own `message` when it answered
 * the usual JSON error; "extension missing" when a /scout route is unknown to the server.
 */
export function describeError(status: number, body: unknown): IDescribedError {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; message?: unknown };
    if (typeof b.error === 'string' && typeof b.message === 'string') {
      return { code: b.error, message: b.message };
    }
  }
  if (status === 404) {
    return { code: 'extension_missing', message: EXTENSION_MISSING };
  }
  if (status === 0) {
    return {
      code: 'network_error',
      message: 'Cannot reach the Jupyter server: is it still running?'
    };
  }
  return {
    code: 'http_error',
    message: `The Jupyter server answered HTTP ${status}`
  };
}

/** A preview cell's text: null as an empty cell, everything else as plain text. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** "Showing 50 of 50,000 rows" */
export function previewCaption(shown: number, total: number): string {
  return shown < total
    ? `Showing the first ${formatCount(shown)} of ${formatRows(total)}`
    : `All ${formatRows(total)}`;
}
