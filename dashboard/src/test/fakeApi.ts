// A tiny in-memory fake of the service's /api (and of the blob PUT), installed as fetch and XMLHttpRequest.

import { vi } from "vitest";
import type { Fleet, JobDetail, JobSummary, PoisonItem, VmafSeries } from "../types";

export interface SeenRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

interface Failure {
  status: number;
  body: unknown;
}

export function job(id: string, over: Partial<JobSummary> = {}): JobSummary {
  return {
    id,
    state: "succeeded",
    stage: "done",
    progress: 1,
    source_name: `${id}.mp4`,
    source_container: "sources",
    submitted_at: "2026-01-01T10:00:00Z",
    updated_at: "2026-01-01T10:01:00Z",
    finished_at: "2026-01-01T10:01:00Z",
    attempts: 1,
    encoder: "h264_nvenc",
    fallback_reason: null,
    error: null,
    durations: { download: 1.5, transcode: 42, upload: 3 },
    ...over,
  };
}

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export class FakeApi {
  jobs: JobSummary[] = [];
  details = new Map<string, JobDetail>();
  poison: PoisonItem[] = [];
  fleet: Fleet | null = null;
  /** VMAF series by URL path. */
  series = new Map<string, VmafSeries>();
  /** Served when a request's "METHOD path" (no query) matches. */
  failures = new Map<string, Failure>();
  /** Return every matching job in one page, whatever the limit. */
  onePage = false;
  retried: string[] = [];
  requests: SeenRequest[] = [];
  uploadUrl = "https://account.blob.core.windows.net/sources/clip-123.mp4?sv=2024&sig=abc";
  uploadBlob = "clip-123.mp4";
  /** Called when the blob PUT completes (what the ingest function would then do). */
  afterPut: (() => void) | null = null;

  fail(method: string, path: string, status: number, error?: string): void {
    this.failures.set(`${method} ${path}`, { status, body: error === undefined ? undefined : { error } });
  }

  seen(method: string, path: string): SeenRequest[] {
    return this.requests.filter((r) => r.method === method && r.url.pathname === path);
  }

  install(): this {
    vi.stubGlobal("fetch", vi.fn((input: RequestInfo | URL, init?: RequestInit) => this.fetch(input, init)));
    const api = this;
    class FakeXhr {
      method = "";
      url = "";
      headers: Record<string, string> = {};
      status = 0;
      statusText = "";
      responseText = "";
      upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
      onload: (() => void) | null = null;
      onerror: (() => void) | null = null;
      onabort: (() => void) | null = null;
      open(method: string, url: string) {
        this.method = method;
        this.url = url;
      }
      setRequestHeader(k: string, v: string) {
        this.headers[k.toLowerCase()] = v;
      }
      abort() {
        this.onabort?.();
      }
      send(body: Blob) {
        api.requests.push({ method: this.method, url: new URL(this.url), headers: { ...this.headers }, body });
        setTimeout(() => {
          const total = body.size;
          this.upload.onprogress?.({ loaded: Math.floor(total / 2), total, lengthComputable: true } as ProgressEvent);
          const f = api.failures.get(`PUT ${new URL(this.url).pathname}`);
          this.status = f ? f.status : 201;
          this.statusText = f ? "Forbidden" : "Created";
          this.responseText = f ? ((f.body as { error?: string } | undefined)?.error ?? "") : "";
          if (!f) api.afterPut?.();
          this.onload?.();
        }, 5);
      }
    }
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    return this;
  }

  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : String(input), window.location.href);
    const method = (init.method ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    this.requests.push({ method, url, headers, body });
    const failure = this.failures.get(`${method} ${url.pathname}`);
    if (failure) return json(failure.status, failure.body);
    return this.route(method, url, body);
  }

  private route(method: string, url: URL, body: unknown): Response {
    const path = url.pathname;
    if (method === "GET" && path === "/api/jobs") {
      const state = url.searchParams.get("state");
      const limit = Number(url.searchParams.get("limit") ?? 50);
      const offset = Number(url.searchParams.get("cursor") ?? 0);
      const all = this.jobs.filter((j) => !state || j.state === state);
      const items = this.onePage ? all : all.slice(offset, offset + limit);
      const next = !this.onePage && offset + limit < all.length ? String(offset + limit) : null;
      return json(200, { items, next });
    }
    let m = /^\/api\/jobs\/([^/]+)\/retry$/.exec(path);
    if (method === "POST" && m) {
      const id = decodeURIComponent(m[1]);
      this.retried.push(id);
      return json(202, { job_id: id, state: "queued" });
    }
    m = /^\/api\/jobs\/([^/]+)$/.exec(path);
    if (method === "GET" && m) {
      const id = decodeURIComponent(m[1]);
      const detail = this.details.get(id);
      if (detail) return json(200, detail);
      const summary = this.jobs.find((j) => j.id === id);
      if (summary) return json(200, { job: summary, manifest: null, links: null });
      return json(404, { error: `no job ${id}` });
    }
    if (method === "GET" && path === "/api/poison") return json(200, { items: this.poison });
    if (method === "POST" && path === "/api/uploads") {
      const b = body as { filename?: string };
      if (!b?.filename) return json(400, { error: "filename is required" });
      return json(201, {
        blob: this.uploadBlob,
        container: "sources",
        upload_url: this.uploadUrl,
        expires_at: "2026-01-01T11:00:00Z",
      });
    }
    if (method === "GET" && path === "/api/fleet") {
      return this.fleet ? json(200, this.fleet) : json(503, { error: "metrics are not configured" });
    }
    const s = this.series.get(path);
    if (method === "GET" && s) return json(200, s);
    return json(404, { error: `no route ${method} ${path}` });
  }
}
