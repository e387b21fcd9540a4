/**
 * The one way the sidebar talks to the server: `requestAPI<T>()` over Jupyter's
 * `ServerConnection` (token, XSRF and base URL handled there). Every failure becomes a
 * `ScoutAPIError` carrying the server's own message (see `describeError` in model.ts).
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { describeError } from './model';

export class ScoutAPIError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
    this.name = 'ScoutAPIError';
  }
}

export interface IRequestOptions {
  /** Query parameters. */
  query?: Record<string, string | number | undefined>;
  /** method, body, headers… */
  init?: RequestInit;
  /** An ETag: the answer is `null` when the server says 304 Not Modified. */
  ifNoneMatch?: string | null;
  /** Receives the answer's ETag, if any. */
  onETag?: (etag: string | null) => void;
}

let settings: ServerConnection.ISettings | null = null;

function serverSettings(): ServerConnection.ISettings {
  settings = settings ?? ServerConnection.makeSettings();
  return settings;
}

/** `GET|POST <base>/scout/api/<path>`, parsed as `T` (or null on 304). */
export async function requestAPI<T>(
  path: string,
  options: IRequestOptions = {}
): Promise<T> {
  const s = serverSettings();
  let url = URLExt.join(s.baseUrl, 'scout', 'api', path);
  const query = Object.entries(options.query ?? {}).filter(
    (kv): kv is [string, string | number] => kv[1] !== undefined
  );
  if (query.length) {
    url += URLExt.objectToQueryString(
      Object.fromEntries(query.map(([k, v]) => [k, String(v)]))
    );
  }
  const init: RequestInit = { ...options.init };
  if (options.ifNoneMatch) {
    init.headers = {
      ...(init.headers as Record<string, string>),
      'If-None-Match': options.ifNoneMatch
    };
    init.cache = 'no-store'; // the browser must not answer the 304 for us from its own cache
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, s);
  } catch (error) {
    const { code, message } = describeError(0, null);
    throw new ScoutAPIError(0, code, message);
  }
  options.onETag?.(response.headers.get('ETag'));
  if (response.status === 304 || (response.ok && init.method === 'HEAD')) {
    return null as T;
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: an HTML error page, e.g. the 404 of a server without the extension
  }
  if (!response.ok) {
    const { code, message } = describeError(response.status, body);
    throw new ScoutAPIError(response.status, code, message);
  }
  return body as T;
}
