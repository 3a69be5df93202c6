import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { listJobs } from "../api";
import { JOBS_PAGE_SIZE, intervals } from "../config";
import { ErrorNotice } from "../components/ErrorNotice";
import { ProgressBar } from "../components/ProgressBar";
import { StateBadge } from "../components/StateBadge";
import { VirtualRows } from "../components/VirtualRows";
import { fmtAgo, fmtSeconds, fmtTime } from "../format";
import { JOB_STATES, type JobPage, type JobSummary } from "../types";

const ROW_HEIGHT = 44;
/** The API's largest page. */
const MAX_PAGE_SIZE = 200;

/** The page size: `limit=` in the URL (1 to 200), else the default. */
function pageSize(raw: string | null): number {
  const n = Math.floor(Number(raw));
  return Number.isFinite(n) && n >= 1 ? Math.min(n, MAX_PAGE_SIZE) : JOBS_PAGE_SIZE;
}

/** Puts a fresh first page in front of the rows loaded so far, without duplicates. */
export function mergeFirstPage(current: JobSummary[], first: JobSummary[]): JobSummary[] {
  const seen = new Set(first.map((j) => j.id));
  return [...first, ...current.filter((j) => !seen.has(j.id))];
}

interface ListState {
  items: JobSummary[];
  next: string | null;
  /** Pages loaded: the first one, then one per "load more". */
  pages: number;
}

type ListAction = { type: "reset" } | { type: "first"; page: JobPage } | { type: "more"; page: JobPage };

/** Answers are applied in the order they arrive, so a refresh never undoes a "load more" (nor the reverse). */
export function listReducer(s: ListState, a: ListAction): ListState {
  switch (a.type) {
    case "reset":
      return { items: [], next: null, pages: 0 };
    case "first":
      return s.pages <= 1
        ? { items: a.page.items, next: a.page.next, pages: 1 }
        : { ...s, items: mergeFirstPage(s.items, a.page.items) };
    case "more": {
      const seen = new Set(s.items.map((j) => j.id));
      return { items: [...s.items, ...a.page.items.filter((j) => !seen.has(j.id))], next: a.page.next, pages: s.pages + 1 };
    }
  }
}

function time(iso: string | null): number {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

/** Newest submission first (the API pages in job-id order); equal times keep the API's order. */
export function newestFirst(items: readonly JobSummary[]): JobSummary[] {
  return [...items].sort((a, b) => time(b.submitted_at) - time(a.submitted_at));
}

function Durations({ job }: { job: JobSummary }) {
  const d = job.durations;
  return (
    <span className="durations" title="download / transcode / upload">
      <span>↓ {fmtSeconds(d?.download)}</span>
      <span>⚙ {fmtSeconds(d?.transcode)}</span>
      <span>↑ {fmtSeconds(d?.upload)}</span>
    </span>
  );
}

export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const stateFilter = params.get("state") ?? "";
  const limit = pageSize(params.get("limit"));
  const [{ items: loaded, next }, dispatch] = useReducer(listReducer, { items: [], next: null, pages: 0 });
  const items = useMemo(() => newestFirst(loaded), [loaded]);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [paused, setPaused] = useState(false);
  const [lastUpdate, setLastUpdate] = useState<number | null>(null);
  const generation = useRef(0);

  const loadedFilter = useRef<string | null>(null);

  // The first page: now, on every change of filter, and every few seconds unless paused.
  useEffect(() => {
    const filterKey = `${stateFilter}|${limit}`;
    if (loadedFilter.current !== filterKey) {
      // A new filter starts from an empty list.
      loadedFilter.current = null;
      dispatch({ type: "reset" });
    } else if (paused) {
      return;
    }
    const gen = ++generation.current;
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const page = await listJobs({ state: stateFilter || null, limit }, ctrl.signal);
        if (stopped || gen !== generation.current) return;
        dispatch({ type: "first", page });
        loadedFilter.current = filterKey;
        setError(null);
        setLastUpdate(Date.now());
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === "AbortError")) return;
        setError(e);
      }
      if (!stopped && !paused) timer = setTimeout(poll, intervals.jobs);
    };
    void poll();
    return () => {
      stopped = true;
      ctrl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [stateFilter, limit, paused]);

  const loadMore = useCallback(async () => {
    if (!next) return;
    const gen = generation.current;
    setLoadingMore(true);
    try {
      const page = await listJobs({ state: stateFilter || null, limit, cursor: next });
      if (gen !== generation.current) return;
      dispatch({ type: "more", page });
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  }, [next, stateFilter, limit]);

  const setFilter = (s: string) => {
    const p = new URLSearchParams(params);
    if (s) p.set("state", s);
    else p.delete("state");
    setParams(p);
  };

  const now = Date.now();
  return (
    <section aria-labelledby="jobs-title">
      <div className="page-head">
        <h1 id="jobs-title">Jobs</h1>
        <div className="toolbar">
          <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
            {paused ? "Resume live updates" : "Pause live updates"}
          </button>
          <span className="muted" aria-live="polite">
            {paused ? "Paused" : "Live"} · {items.length} shown
            {lastUpdate ? ` · updated ${new Date(lastUpdate).toLocaleTimeString()}` : ""}
          </span>
        </div>
      </div>

      <div role="tablist" aria-label="Filter by state" className="tabs">
        {["", ...JOB_STATES].map((s) => (
          <button
            key={s || "all"}
            type="button"
            role="tab"
            aria-selected={stateFilter === s}
            className={stateFilter === s ? "tab active" : "tab"}
            onClick={() => setFilter(s)}
          >
            {s || "all"}
          </button>
        ))}
        <Link to="/poison" className="tab tab-link">
          poison queue →
        </Link>
      </div>

      <ErrorNotice error={error} />

      <div role="table" aria-label="Jobs" aria-rowcount={items.length + 1} className="vtable">
        <div role="rowgroup" className="vtable-head">
          <div role="row" className="jobrow">
            <span role="columnheader">State</span>
            <span role="columnheader">Progress</span>
            <span role="columnheader">Source</span>
            <span role="columnheader">Encoder / fallback</span>
            <span role="columnheader" title="download ↓ · transcode ⚙ · upload ↑">
              Stage durations
            </span>
            <span role="columnheader">Updated</span>
          </div>
        </div>
        <VirtualRows
          items={items}
          rowHeight={ROW_HEIGHT}
          className="vtable-body"
          ariaLabel="Job rows"
          renderRow={(job, i, style) => (
            <div role="row" key={job.id} data-testid="job-row" aria-rowindex={i + 2} className="jobrow" style={style}>
              <span role="cell">
                <StateBadge state={job.state} />
              </span>
              <span role="cell">
                <ProgressBar value={job.progress} label={`Progress of ${job.source_name ?? job.id}`} />
              </span>
              <span role="cell" className="ellipsis">
                <Link to={`/jobs/${encodeURIComponent(job.id)}`} title={job.source_name ?? job.id}>
                  {job.source_name ?? job.id}
                </Link>
                {job.stage && job.state === "running" ? <span className="muted"> · {job.stage}</span> : null}
              </span>
              <span role="cell" className="ellipsis" title={job.fallback_reason ?? job.error ?? undefined}>
                {job.encoder ?? "—"}
                {job.fallback_reason ? <span className="fallback"> · {job.fallback_reason}</span> : null}
              </span>
              <span role="cell">
                <Durations job={job} />
              </span>
              <span role="cell" title={fmtTime(job.updated_at)}>
                {fmtAgo(job.updated_at, now)}
              </span>
            </div>
          )}
        />
        {items.length === 0 && !error && <p className="empty muted">No jobs{stateFilter ? ` ${stateFilter}` : ""}.</p>}
      </div>

      <div className="list-foot">
        {next ? (
          <button type="button" onClick={loadMore} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        ) : (
          items.length > 0 && <span className="muted">End of the list.</span>
        )}
      </div>
    </section>
  );
}
