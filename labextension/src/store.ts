/**
 * The dataset list as the server last gave it: read with `GET /scout/api/datasets`, kept fresh by
 * conditional `HEAD`s of the manifest (its ETag), and the error when it could not be read.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI, ScoutAPIError } from './api';
import type { IDatasetList, IDatasetSummary } from './types';

/** After this long the list is re-read even when the manifest did not change (ages, freshness). */
const LIST_MAX_AGE_MS = 5 * 60_000;

/** The dataset list as the server last gave it, and whether it could. */
export class DatasetStore {
  datasets: IDatasetSummary[] = [];
  status: 'loading' | 'ready' | 'error' = 'loading';
  error: ScoutAPIError | null = null;
  updatedAt: Date | null = null;
  private _etag: string | null = null;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Re-read the list, and the manifest's ETag that later polls compare against. */
  async refresh(): Promise<void> {
    try {
      const [list] = await Promise.all([
        requestAPI<IDatasetList>('datasets'),
        requestAPI<null>('manifest', {
          init: { method: 'HEAD' },
          onETag: etag => (this._etag = etag)
        })
      ]);
      this.datasets = list.datasets;
      this.status = 'ready';
      this.error = null;
      this.updatedAt = new Date();
    } catch (error) {
      this._fail(error);
    }
    this._changed.emit();
  }

  /**
   * One poll: a conditional HEAD of the manifest (304 while it is unchanged: no body either
   * way); the list is re-read only when the ETag changed, or every few minutes for the ages.
   */
  async poll(): Promise<void> {
    let changed = this._etag === null;
    if (!changed) {
      try {
        await requestAPI<null>('manifest', {
          init: { method: 'HEAD' },
          ifNoneMatch: this._etag,
          onETag: etag => (changed = !!etag && etag !== this._etag)
        });
      } catch (error) {
        this._fail(error);
      }
    }
    const stale =
      !this.updatedAt ||
      Date.now() - this.updatedAt.getTime() > LIST_MAX_AGE_MS;
    if (changed || stale || this.status !== 'ready') {
      await this.refresh();
    }
  }

  private _fail(error: unknown): never {
    this.status = 'error';
    this.error =
      error instanceof ScoutAPIError
        ? error
        : new ScoutAPIError(
            0,
            'error',
            String((error as Error)?.message ?? error)
          );
    this._changed.emit();
    throw this.error;
  }
}
