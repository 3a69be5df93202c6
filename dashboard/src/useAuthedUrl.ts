import { useEffect, useState } from "react";
import { authHeaderFor, getToken, isSameOrigin } from "./auth";

/**
 * A URL an <img> or <a download> can use. With a bearer token, a same-origin resource is fetched with the header
 * and handed out as an object URL (the browser sends no header for src or href); otherwise the URL as it is.
 */
export function useAuthedUrl(url: string | null | undefined): string | null {
  const needsFetch = !!url && !!getToken() && isSameOrigin(url);
  const [objectUrl, setObjectUrl] = useState<string | null>(null);

  useEffect(() => {
    if (!url || !needsFetch || typeof URL.createObjectURL !== "function") return;
    const ctrl = new AbortController();
    let made: string | null = null;
    fetch(url, { headers: authHeaderFor(url), signal: ctrl.signal })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((b) => {
        made = URL.createObjectURL(b);
        setObjectUrl(made);
      })
      .catch(() => setObjectUrl(null));
    return () => {
      ctrl.abort();
      if (made) URL.revokeObjectURL(made);
      setObjectUrl(null);
    };
  }, [url, needsFetch]);

  if (!url) return null;
  return needsFetch ? objectUrl : url;
}
