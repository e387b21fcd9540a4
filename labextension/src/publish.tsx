/**
 * "Scout: Publish…": a checklist dialog, `POST /scout/api/publish`, and one notification kept
 * up to date from `GET /scout/api/jobs/<id>` until the job succeeds or fails.
 */

import {
  Dialog,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import * as React from 'react';

import { requestAPI } from './api';
import { jobMessage } from './model';
import type { IDatasetSummary, IJob, IPublishStarted } from './types';

const JOB_POLL_MS = 1000;

function Checklist({
  datasets,
  selected,
  onChange
}: {
  datasets: IDatasetSummary[];
  selected: Set<string>;
  onChange: (next: Set<string>) => void;
}): JSX.Element {
  const all = selected.size === datasets.length;
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) {
      next.delete(id);
    } else {
      next.add(id);
    }
    onChange(next);
  };
  return (
    <div className="scout-Publish">
      <p className="scout-Publish-intro">
        Export the checked datasets from their source, verify them and write a
        new manifest.
      </p>
      <label className="scout-Publish-all">
        <input
          type="checkbox"
          checked={all}
          onChange={() =>
            onChange(all ? new Set() : new Set(datasets.map(d => d.id)))
          }
        />
        All datasets ({datasets.length})
      </label>
      <ul className="scout-Publish-list" aria-label="Datasets to publish">
        {datasets.map(d => (
          <li key={d.id}>
            <label>
              <input
                type="checkbox"
                checked={selected.has(d.id)}
                onChange={() => toggle(d.id)}
                data-dataset-id={d.id}
              />
              <span className="scout-Publish-id">{d.id}</span>
            </label>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The dialog body; its value is the checked ids. */
class PublishBody extends ReactWidget implements Dialog.IBodyWidget<string[]> {
  private _selected: Set<string>;

  constructor(private _datasets: IDatasetSummary[]) {
    super();
    this._selected = new Set(_datasets.map(d => d.id));
  }

  getValue(): string[] {
    return this._datasets.map(d => d.id).filter(id => this._selected.has(id));
  }

  render(): JSX.Element {
    return (
      <Checklist
        datasets={this._datasets}
        selected={this._selected}
        onChange={next => {
          this._selected = next;
          this.update();
        }}
      />
    );
  }
}

function wait(ms: number): Promise<void> {
  return new Promise(resolve => window.setTimeout(resolve, ms));
}

/** Follow a job, updating notification `id`, until it ends; the final job state. */
async function followJob(jobId: string, id: string): Promise<IJob> {
  for (;;) {
    const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(jobId)}`);
    const done = job.state === 'succeeded' || job.state === 'failed';
    Notification.update({
      id,
      message: jobMessage(job),
      type:
        job.state === 'succeeded'
          ? 'success'
          : job.state === 'failed'
            ? 'error'
            : 'in-progress',
      autoClose: done ? (job.state === 'succeeded' ? 8000 : false) : false
    });
    if (done) {
      return job;
    }
    await wait(JOB_POLL_MS);
  }
}

/** Ask which datasets, publish them, and report; resolves once the job has ended. */
export async function publishDatasets(
  datasets: IDatasetSummary[],
  onFinished: (job: IJob) => void
): Promise<void> {
  const result = await showDialog({
    title: 'Publish Scout datasets',
    body: new PublishBody(datasets),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })],
    focusNodeSelector: 'input'
  });
  if (!result.button.accept) {
    return;
  }
  const chosen = result.value ?? [];
  if (chosen.length === 0) {
    Notification.warning('Nothing to publish: no dataset was checked.', {
      autoClose: 5000
    });
    return;
  }
  const everything = chosen.length === datasets.length;
  const id = Notification.emit(
    `Starting to publish ${chosen.length} dataset${chosen.length === 1 ? '' : 's'}…`,
    'in-progress',
    { autoClose: false }
  );
  try {
    const started = await requestAPI<IPublishStarted>('publish', {
      init: {
        method: 'POST',
        body: JSON.stringify({ datasets: everything ? null : chosen })
      }
    });
    onFinished(await followJob(started.job_id, id));
  } catch (error) {
    Notification.update({
      id,
      message: `Publish failed: ${(error as Error).message}`,
      type: 'error',
      autoClose: false
    });
  }
}
