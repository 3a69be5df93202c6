import { useCallback, useEffect, useRef, useState } from "react";

export interface Poll<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again now (and restarts the interval). */
  reload: () => void;
}

/**
 * Calls `load` now, then every `intervalMs` after each answer while `intervalMs` is not null, until an answer
 * satisfies `until`. A change of `key` starts over (data cleared); a stale answer never overwrites a newer one.
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number | null,
  key: string = "",
  until?: (data: T) => boolean,
): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const untilRef = useRef(until);
  untilRef.current = until;
  const keyRef = useRef(key);

  useEffect(() => {
    if (keyRef.current !== key) {
      keyRef.current = key;
      setData(undefined);
      setError(null);
    }
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    const run = async () => {
      setLoading(true);
      let settled = false;
      try {
        const value = await loadRef.current(ctrl.signal);
        if (stopped) return;
        setData(value);
        setError(null);
        settled = untilRef.current?.(value) ?? false;
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === "AbortError")) return;
        setError(e);
      } finally {
        if (!stopped) setLoading(false);
      }
      if (!stopped && !settled && intervalMs !== null) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      ctrl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
