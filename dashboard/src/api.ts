// A small client for the service's /api.

import { authHeaderFor } from "./auth";
import { apiBase } from "./config";
import type { Fleet, JobDetail, JobPage, PoisonItem, RetryResult, UploadTicket, VmafSeries } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string | null;

  constructor(status: number, reason: string | null, statusText = "") {
    super(reason ?? `HTTP ${status}${statusText ? ` ${statusText}` : ""}`);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }
}

async function reasonOf(res: Response): Promise<string | null> {
  try {
    const text = await res.text();
    if (!text) return null;
    try {
      const body: unknown = JSON.parse(text);
      if (body && typeof body === "object" && "error" in body) {
        const err = (body as { error: unknown }).error;
        return typeof err === "string" ? err : JSON.stringify(err);
      }
    } catch {
      /* not JSON: use the text itself when it is short */
    }
    return text.length <= 300 ? text.trim() || null : null;
  } catch {
    return null;
  }
}

/** Fetches JSON from a full or same-origin-relative URL, with the bearer token where it belongs. */
export async function getJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = {
    Accept: "application/json",
    ...authHeaderFor(url),
    ...((init.headers as Record<string, string> | undefined) ?? {}),
  };
  const res = await fetch(url, { ...init, headers, credentials: "same-origin" });
  if (!res.ok) throw new ApiError(res.status, await reasonOf(res), res.statusText);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

function api(path: string): string {
  return `${apiBase()}${path}`;
}

function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return getJson<T>(api(path), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
}

export interface ListJobsQuery {
  state?: string | null;
  limit?: number;
  cursor?: string | null;
}

export function listJobs(q: ListJobsQuery, signal?: AbortSignal): Promise<JobPage> {
  const params = new URLSearchParams();
  if (q.state) params.set("state", q.state);
  if (q.limit) params.set("limit", String(q.limit));
  if (q.cursor) params.set("cursor", q.cursor);
  const qs = params.toString();
  return getJson<JobPage>(api(`/jobs${qs ? `?${qs}` : ""}`), { signal });
}

export function getJob(id: string, signal?: AbortSignal): Promise<JobDetail> {
  return getJson<JobDetail>(api(`/jobs/${encodeURIComponent(id)}`), { signal });
}

export function retryJob(id: string): Promise<RetryResult> {
  return postJson<RetryResult>(`/jobs/${encodeURIComponent(id)}/retry`, undefined);
}

export function listPoison(signal?: AbortSignal): Promise<{ items: PoisonItem[] }> {
  return getJson<{ items: PoisonItem[] }>(api("/poison"), { signal });
}

export function createUpload(file: { filename: string; content_type: string; size: number }): Promise<UploadTicket> {
  return postJson<UploadTicket>("/uploads", file);
}

export function getFleet(signal?: AbortSignal): Promise<Fleet> {
  return getJson<Fleet>(api("/fleet"), { signal });
}

export function getVmafSeries(url: string, signal?: AbortSignal): Promise<VmafSeries> {
  return getJson<VmafSeries>(url, { signal });
}

/** PUTs a file to a blob upload URL with XMLHttpRequest, for its upload progress events. */
export function putBlob(
  url: string,
  file: Blob,
  contentType: string,
  onProgress: (loaded: number, total: number) => void,
): { done: Promise<void>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = new Promise<void>((resolve, reject) => {
    xhr.open("PUT", url);
    xhr.setRequestHeader("x-ms-blob-type", "BlockBlob");
    xhr.setRequestHeader("Content-Type", contentType);
    for (const [k, v] of Object.entries(authHeaderFor(url))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e: ProgressEvent) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        // Blob storage answers in XML: its <Code> says why (an expired URL reads AuthenticationFailed).
        const text = typeof xhr.responseText === "string" ? xhr.responseText : "";
        const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? (text.length <= 300 ? text.trim() : "");
        reject(new Error(`blob storage refused the upload (HTTP ${xhr.status}${code ? `: ${code}` : ""})`));
      }
    };
    xhr.onerror = () => reject(new Error("the upload failed: network error"));
    xhr.onabort = () => reject(new Error("the upload was cancelled"));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
