// Where the API lives and how often pages refresh.

function metaContent(name: string): string | null {
  if (typeof document === "undefined") return null;
  const el = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
  return el?.content?.trim() || null;
}

/** The API's base URL: a `<meta name="dashboard-api-base">` in index.html (set at deploy time), else
 * `VITE_API_BASE` at build time, else `/api` on the same origin. */
export function apiBase(): string {
  const fromEnv = import.meta.env.VITE_API_BASE as string | undefined;
  const base = metaContent("dashboard-api-base") ?? (fromEnv?.trim() || "/api");
  return base.replace(/\/+$/, "");
}

/** Refresh intervals in milliseconds (mutable so tests can shorten them). */
export const intervals = {
  jobs: 3000,
  job: 3000,
  upload: 3000,
  fleet: 5000,
};

/** Page size for the jobs list. */
export const JOBS_PAGE_SIZE = 200;
/** How many recent jobs the upload page scans for its blob. */
export const UPLOAD_MATCH_LIMIT = 50;
