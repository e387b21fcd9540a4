/**
 * The "Scout datasets" sidebar: the React rendering of a DatasetStore, polled while visible.
 * Wording and ordering come from model.ts.
 */

import { ReactWidget } from '@jupyterlab/apputils';
import { refreshIcon, searchIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import {
  badgeLabel,
  badgeState,
  badgeTitle,
  formatCount,
  formatRows,
  formatSize,
  freshnessWording,
  limitView,
  ROWS_PER_PAGE,
  SORT_LABELS,
  SortKey,
  viewOf
} from './model';
import { DatasetStore } from './store';
import type { IDatasetSummary } from './types';

export interface IDatasetActions {
  load(id: string): void;
  preview(dataset: IDatasetSummary): void;
  copyCode(id: string): void;
  copyURL(id: string): void;
}

interface IRowProps {
  dataset: IDatasetSummary;
  now: Date;
  actions: IDatasetActions;
}

const DatasetRow = React.memo(function DatasetRow({
  dataset: d,
  now,
  actions
}: IRowProps) {
  const label = badgeLabel(d.freshness);
  const onKeyDown = (event: React.KeyboardEvent<HTMLLIElement>) => {
    if (event.target !== event.currentTarget) {
      return; // a button inside the row handles its own keys
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      actions.load(d.id);
    } else if (event.key === ' ') {
      event.preventDefault();
      actions.preview(d);
    }
  };
  return (
    <li
      className="scout-Dataset"
      data-dataset-id={d.id}
      tabIndex={-1}
      aria-label={`${d.id}, ${badgeState(d.freshness)}, ${formatRows(d.row_count)}`}
      aria-keyshortcuts="Enter Space"
      title="Enter: load into the notebook · Space: preview"
      onKeyDown={onKeyDown}
    >
      <div className="scout-Dataset-head">
        <span className="scout-Dataset-name" title={d.id}>
          {d.name}
        </span>
        <span
          className={`scout-Badge scout-Badge-${badgeState(d.freshness)}`}
          title={badgeTitle(d, now)}
          aria-label={`freshness ${badgeTitle(d, now)}`}
        >
          {label}
        </span>
      </div>
      {d.description && (
        <div className="scout-Dataset-description" title={d.description}>
          {d.description}
        </div>
      )}
      <div className="scout-Dataset-meta">
        <span>{formatRows(d.row_count)}</span>
        <span>{formatSize(d.size_bytes)}</span>
        <span title={`data date ${d.date}`}>{d.date}</span>
      </div>
      <div className="scout-Dataset-age">{freshnessWording(d, now)}</div>
      <div
        className="scout-Dataset-actions"
        role="group"
        aria-label={`Actions for ${d.id}`}
      >
        <button
          className="scout-Button scout-Button-primary"
          onClick={() => actions.load(d.id)}
          aria-label={`Load ${d.id} into the notebook`}
          title="Insert and run %scout load in the active notebook"
        >
          Load
        </button>
        <button
          className="scout-Button"
          onClick={() => actions.preview(d)}
          aria-label={`Preview ${d.id}`}
          title="First 50 rows and the typed schema"
        >
          Preview
        </button>
        <button
          className="scout-Button scout-Button-copy"
          onClick={() => actions.copyCode(d.id)}
          aria-label={`Copy code that loads ${d.id}`}
          title="Copy Python that loads it"
        >
          Code
        </button>
        <button
          className="scout-Button scout-Button-copy"
          onClick={() => actions.copyURL(d.id)}
          aria-label={`Copy a signed URL of ${d.id}`}
          title="Copy a signed download URL (default lifetime)"
        >
          URL
        </button>
      </div>
    </li>
  );
});

/** Arrow keys, Home and End move between dataset rows (one roving tab stop). */
function moveFocus(event: React.KeyboardEvent<HTMLElement>): void {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
  if (!keys.includes(event.key)) {
    return;
  }
  const rows = Array.from(
    event.currentTarget.querySelectorAll<HTMLElement>('.scout-Dataset')
  );
  if (rows.length === 0) {
    return;
  }
  const current = rows.findIndex(r => r.contains(document.activeElement));
  let next = current;
  if (event.key === 'ArrowDown') {
    next = Math.min(rows.length - 1, current + 1);
  } else if (event.key === 'ArrowUp') {
    next = Math.max(0, current - 1);
  } else if (event.key === 'Home') {
    next = 0;
  } else {
    next = rows.length - 1;
  }
  event.preventDefault();
  rows.forEach((r, i) => (r.tabIndex = i === next ? 0 : -1));
  rows[next].focus();
}

interface IPanelProps {
  store: DatasetStore;
  actions: IDatasetActions;
  onRefresh: () => void;
}

function DatasetsPanel({
  store,
  actions,
  onRefresh
}: IPanelProps): JSX.Element {
  const [, setVersion] = React.useState(0);
  const [query, setQuery] = React.useState('');
  const [sort, setSort] = React.useState<SortKey>('name');
  const [now, setNow] = React.useState(() => new Date());

  React.useEffect(() => {
    const onChange = () => {
      setNow(new Date());
      setVersion(v => v + 1);
    };
    store.changed.connect(onChange);
    onChange(); // the store may have changed between the first render and this subscription
    const timer = window.setInterval(() => setNow(new Date()), 60_000);
    return () => {
      store.changed.disconnect(onChange);
      window.clearInterval(timer);
    };
  }, [store]);

  const [paging, setPaging] = React.useState({ key: '', limit: ROWS_PER_PAGE });
  const view = React.useMemo(
    () => viewOf(store.datasets, query, sort),
    [store.datasets, query, sort]
  );
  const shown = view.reduce((n, g) => n + g.datasets.length, 0);
  // a long list renders a page of rows, and another each time its end scrolls into view
  // (a new query or sort starts again from the first page)
  const pagingKey = `${query}\u0000${sort}`;
  const limit = paging.key === pagingKey ? paging.limit : ROWS_PER_PAGE;
  const page = React.useMemo(() => limitView(view, limit), [view, limit]);
  const totals = React.useMemo(
    () => new Map(view.map(g => [g.layer, g.datasets.length])),
    [view]
  );
  const listRef = React.useRef<HTMLDivElement>(null);
  const moreRef = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const more = moreRef.current;
    if (!more || !listRef.current) {
      return;
    }
    const observer = new IntersectionObserver(
      entries => {
        if (entries.some(e => e.isIntersecting)) {
          setPaging({ key: pagingKey, limit: limit + ROWS_PER_PAGE });
        }
      },
      { root: listRef.current, rootMargin: '200px' }
    );
    observer.observe(more);
    return () => observer.disconnect();
  }, [page.hidden, pagingKey, limit]);

  // exactly one row is reachable with Tab: the first, unless focus is already in the list
  React.useLayoutEffect(() => {
    const rows =
      listRef.current?.querySelectorAll<HTMLElement>('.scout-Dataset');
    if (rows && rows.length && !Array.from(rows).some(r => r.tabIndex === 0)) {
      rows[0].tabIndex = 0;
    }
  });

  let body: JSX.Element;
  if (store.status === 'error' && store.error) {
    body = (
      <div
        className={`scout-Sidebar-message scout-mod-error${
          store.error.code === 'extension_missing' ? ' scout-mod-missing' : ''
        }`}
        role="alert"
      >
        {store.error.message}
      </div>
    );
  } else if (store.status === 'loading') {
    body = (
      <div className="scout-Sidebar-message" role="status">
        Loading datasets…
      </div>
    );
  } else if (shown === 0) {
    body = (
      <div className="scout-Sidebar-message" role="status">
        {store.datasets.length === 0
          ? 'The store has no datasets yet. Publish some with “Scout: Publish…”.'
          : `No dataset matches “${query}”.`}
      </div>
    );
  } else {
    body = (
      <div className="scout-Sidebar-list" ref={listRef} onKeyDown={moveFocus}>
        {page.groups.map(group => (
          <section
            key={group.layer}
            className="scout-Layer"
            aria-label={`${group.layer} layer`}
          >
            <h3 className="scout-Layer-title">
              {group.layer}
              <span className="scout-Layer-count">
                {totals.get(group.layer)}
              </span>
            </h3>
            <ul
              className="scout-Layer-datasets"
              aria-label={`${group.layer} datasets`}
            >
              {group.datasets.map(d => (
                <DatasetRow
                  key={d.id}
                  dataset={d}
                  now={now}
                  actions={actions}
                />
              ))}
            </ul>
          </section>
        ))}
        {page.hidden > 0 && (
          <div className="scout-More" ref={moreRef} role="status">
            {formatCount(page.hidden)} more — scroll to show them
          </div>
        )}
      </div>
    );
  }

  const updated = store.updatedAt
    ? store.updatedAt.toTimeString().slice(0, 5)
    : null;
  return (
    <div className="scout-Sidebar">
      <div className="scout-Sidebar-header">
        <h2 className="scout-Sidebar-title">Scout datasets</h2>
        <button
          className="scout-IconButton"
          onClick={onRefresh}
          aria-label="Refresh datasets"
          title="Refresh datasets"
        >
          <refreshIcon.react tag="span" className="scout-Icon" />
        </button>
      </div>
      <div className="scout-Sidebar-controls">
        <label className="scout-Search">
          <searchIcon.react tag="span" className="scout-Icon" />
          <input
            type="search"
            className="scout-Search-input"
            placeholder="Search datasets"
            aria-label="Search datasets"
            value={query}
            onChange={e => setQuery(e.target.value)}
          />
        </label>
      </div>
      <div className="scout-Sidebar-summary">
        <span
          role="status"
          aria-live="polite"
          title={updated ? `Checked with the server at ${updated}` : undefined}
        >
          {store.status === 'ready' &&
            (shown === store.datasets.length
              ? `${formatCount(shown)} datasets`
              : `${formatCount(shown)} of ${formatCount(store.datasets.length)} datasets`)}
        </span>
        <label className="scout-Sort-label">
          Sort
          <select
            className="scout-Sort"
            aria-label="Sort datasets by"
            value={sort}
            onChange={e => setSort(e.target.value as SortKey)}
          >
            {(Object.keys(SORT_LABELS) as SortKey[]).map(k => (
              <option key={k} value={k}>
                {SORT_LABELS[k]}
              </option>
            ))}
          </select>
        </label>
      </div>
      {body}
    </div>
  );
}

/** The sidebar widget: renders the store and polls the manifest while it is visible. */
export class DatasetsSidebar extends ReactWidget {
  readonly store = new DatasetStore();
  private _poll: Poll;

  constructor(
    private _actions: IDatasetActions,
    private _onError: (error: unknown) => void,
    intervalSeconds = 30
  ) {
    super();
    this.id = 'scout-datasets';
    this.addClass('scout-SidebarWidget');
    this._poll = new Poll({
      auto: true,
      factory: () => this.store.poll(),
      frequency: {
        interval: intervalSeconds * 1000,
        backoff: true,
        max: 10 * 60_000
      },
      name: 'scout-jupyter:manifest',
      standby: () => (this.isVisible ? 'when-hidden' : true)
    });
  }

  set refreshInterval(seconds: number) {
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: Math.max(1, seconds) * 1000
    };
  }

  /** Re-read now; errors become notifications (the panel shows them too). */
  refresh = (): void => {
    this.store.refresh().catch(error => this._onError(error));
  };

  /** Shown: read now (errors are shown in the panel); the poll then runs while it is visible. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.store.poll().catch(() => undefined);
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return (
      <DatasetsPanel
        store={this.store}
        actions={this._actions}
        onRefresh={this.refresh}
      />
    );
  }
}
