/**
 * The JSON shapes of the scout_jupyter server extension's REST routes (DESIGN.md).
 */

export type Freshness = 'fresh' | 'stale' | 'overdue' | 'unknown';

/** One row of `GET /scout/api/datasets`. */
export interface IDatasetSummary {
  id: string;
  layer: string;
  name: string;
  description: string;
  date: string;
  row_count: number;
  size_bytes: number;
  last_modified: string;
  update_frequency: string | null;
  freshness: Freshness;
  schema_version: string;
}

export interface IDatasetList {
  datasets: IDatasetSummary[];
}

export interface IColumn {
  name: string;
  type: string;
}

/** `GET /scout/api/datasets/<layer>/<name>/preview`. */
export interface IPreview {
  columns: IColumn[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
}

/** `GET /scout/api/dataset-proxy?dataset=<id>`. */
export interface ISignedURL {
  signed_url: string;
  expires_at: string;
  dataset_info: {
    row_count: number;
    size_bytes: number;
    last_updated: string;
    sha256: string;
  };
}

/** `GET /scout/api/permissions`. */
export interface IPermissions {
  user: string | null;
  permissions: { publish: boolean; analytics: boolean };
}

export interface IPublishStarted {
  job_id: string;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface IJobDataset {
  id: string;
  step: string;
  state: string;
  bytes_uploaded: number;
  error: string | null;
}

/** `GET /scout/api/jobs/<job_id>`. */
export interface IJob {
  job_id: string;
  state: JobState;
  progress: number;
  datasets: IJobDataset[];
  started_at: string | null;
  finished_at: string | null;
  error?: string | null;
}

/** Every error answer: `{"error": "<code>", "message": "<text>"}`. */
export interface IErrorBody {
  error: string;
  message: string;
}
