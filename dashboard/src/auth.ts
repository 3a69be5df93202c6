// The bearer token of the local stack: it opens the dashboard at `/#token=<token>`. On Azure, App Service
// Authentication uses cookies and there is no token: then no Authorization header is sent.

const STORAGE_KEY = "transcoder-dashboard.token";

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Reads `#token=...` (or a `token=` parameter in the hash route's query) once, keeps it in sessionStorage and
 * removes it from the address bar. Returns the token it found, if any. */
export function captureTokenFromUrl(): string | null {
  const { hash, pathname, search } = window.location;
  let token: string | null = null;
  let route = hash;
  const bare = /^#token=([^&]*)(?:&.*)?$/.exec(hash);
  if (bare) {
    token = decodeURIComponent(bare[1]);
    route = "#/";
  } else {
    const q = hash.indexOf("?");
    if (q >= 0) {
      const params = new URLSearchParams(hash.slice(q + 1));
      const found = params.get("token");
      if (found !== null) {
        token = found;
        params.delete("token");
        const rest = params.toString();
        route = hash.slice(0, q) + (rest ? `?${rest}` : "");
      }
    }
  }
  if (token === null) return null;
  if (token) storage()?.setItem(STORAGE_KEY, token);
  window.history.replaceState(window.history.state, "", `${pathname}${search}${route}`);
  return token || null;
}

export function getToken(): string | null {
  return storage()?.getItem(STORAGE_KEY) || null;
}

export function forgetToken(): void {
  storage()?.removeItem(STORAGE_KEY);
}

/** True when `url` is on the dashboard's own origin: only then does it get the bearer token (never a SAS URL). */
export function isSameOrigin(url: string): boolean {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function authHeaderFor(url: string): Record<string, string> {
  const token = getToken();
  return token && isSameOrigin(url) ? { Authorization: `Bearer ${token}` } : {};
}
