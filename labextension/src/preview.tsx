/**
 * The main-area preview of one dataset: the typed schema and the first rows, read on the
 * server by `GET /scout/api/datasets/<layer>/<name>/preview`.
 */

import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { tableRowsIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { requestAPI } from './api';
import {
  badgeLabel,
  badgeState,
  cellText,
  freshnessWording,
  previewCaption
} from './model';
import type { IDatasetSummary, IPreview } from './types';

export const PREVIEW_ROWS = 50;

function PreviewTable({
  dataset,
  preview
}: {
  dataset: IDatasetSummary;
  preview: IPreview;
}): JSX.Element {
  const label = badgeLabel(dataset.freshness);
  return (
    <div className="scout-Preview">
      <div className="scout-Preview-header">
        <h2 className="scout-Preview-title">
          {dataset.id}
          <span
            className={`scout-Badge scout-Badge-${badgeState(dataset.freshness)}`}
          >
            {label}
          </span>
        </h2>
        {dataset.description && (
          <p className="scout-Preview-description">{dataset.description}</p>
        )}
        <p className="scout-Preview-caption">
          {previewCaption(preview.rows.length, preview.row_count)} · data of{' '}
          {dataset.date} · {freshnessWording(dataset, new Date())} · schema{' '}
          {dataset.schema_version}
        </p>
      </div>
      <div className="scout-Preview-schema" aria-label="Schema">
        {preview.columns.map(c => (
          <span key={c.name} className="scout-Column">
            <span className="scout-Column-name">{c.name}</span>
            <span className={`scout-Type scout-Type-${c.type}`}>{c.type}</span>
          </span>
        ))}
      </div>
      <div className="scout-Preview-scroll">
        <table
          className="scout-Preview-table"
          aria-label={`First rows of ${dataset.id}`}
        >
          <thead>
            <tr>
              <th scope="col" className="scout-Preview-index">
                #
              </th>
              {preview.columns.map(c => (
                <th key={c.name} scope="col" className={`scout-mod-${c.type}`}>
                  <span className="scout-Column-name">{c.name}</span>
                  <span className={`scout-Type scout-Type-${c.type}`}>
                    {c.type}
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((row, i) => (
              <tr key={i}>
                <th scope="row" className="scout-Preview-index">
                  {i}
                </th>
                {row.map((value, j) => (
                  <td
                    key={j}
                    className={`scout-mod-${preview.columns[j]?.type ?? 'string'}${
                      value === null ? ' scout-mod-null' : ''
                    }`}
                  >
                    {value === null ? 'null' : cellText(value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

class PreviewBody extends ReactWidget {
  private _preview: IPreview | null = null;
  private _error: string | null = null;

  constructor(private _dataset: IDatasetSummary) {
    super();
    this.addClass('scout-PreviewWidget');
  }

  setAnswer(preview: IPreview | null, error: string | null): void {
    this._preview = preview;
    this._error = error;
    this.update();
  }

  render(): JSX.Element {
    if (this._error) {
      return (
        <div className="scout-Sidebar-message scout-mod-error" role="alert">
          {this._error}
        </div>
      );
    }
    if (!this._preview) {
      return (
        <div className="scout-Sidebar-message" role="status">
          Reading the first rows of {this._dataset.id}…
        </div>
      );
    }
    return <PreviewTable dataset={this._dataset} preview={this._preview} />;
  }
}

/** A main-area panel previewing `dataset`; it fills in when the server answers. */
export function openPreview(
  dataset: IDatasetSummary,
  onError: (error: unknown) => void
): MainAreaWidget<PreviewBody> {
  const body = new PreviewBody(dataset);
  const widget = new MainAreaWidget({ content: body });
  widget.id = `scout-preview-${dataset.id.replace('/', '-')}-${Date.now()}`;
  widget.title.label = `Preview: ${dataset.id}`;
  widget.title.caption = `First ${PREVIEW_ROWS} rows of ${dataset.id}`;
  widget.title.icon = tableRowsIcon;
  widget.title.closable = true;
  const [layer, name] = dataset.id.split('/');
  requestAPI<IPreview>(`datasets/${layer}/${name}/preview`, {
    query: { limit: PREVIEW_ROWS }
  })
    .then(preview => body.setAnswer(preview, null))
    .catch(error => {
      body.setAnswer(null, (error as Error).message);
      onError(error);
    });
  return widget;
}
