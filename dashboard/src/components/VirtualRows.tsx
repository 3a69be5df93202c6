import { useCallback, useEffect, useLayoutEffect, useRef, useState, type CSSProperties, type ReactNode } from "react";

/** Height used before the viewport can be measured (and where it never can be, as in jsdom). */
const FALLBACK_VIEWPORT = 600;

interface Props<T> {
  items: readonly T[];
  rowHeight: number;
  /** Rows drawn above and below the visible ones. */
  overscan?: number;
  className?: string;
  ariaLabel?: string;
  renderRow: (item: T, index: number, style: CSSProperties) => ReactNode;
}

/**
 * A fixed-row-height virtualised list: only the rows in view (plus `overscan`) are in the DOM, whatever the number
 * of items. The scroll container holds a spacer of the full height; each row is absolutely positioned.
 */
export function VirtualRows<T>({ items, rowHeight, overscan = 8, className, ariaLabel, renderRow }: Props<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(FALLBACK_VIEWPORT);

  const measure = useCallback(() => {
    const h = ref.current?.clientHeight ?? 0;
    setViewport(h > 0 ? h : FALLBACK_VIEWPORT);
  }, []);

  useLayoutEffect(measure, [measure]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (typeof ResizeObserver !== "undefined") {
      const ro = new ResizeObserver(measure);
      ro.observe(el);
      return () => ro.disconnect();
    }
    window.addEventListener("resize", measure);
    return () => window.removeEventListener("resize", measure);
  }, [measure]);

  const total = items.length * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i += 1) {
    rows.push(
      renderRow(items[i], i, { position: "absolute", top: 0, left: 0, right: 0, height: rowHeight, transform: `translateY(${i * rowHeight}px)` }),
    );
  }

  return (
    <div
      ref={ref}
      className={className}
      role="rowgroup"
      aria-label={ariaLabel}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div role="presentation" style={{ position: "relative", height: total }}>
        {rows}
      </div>
    </div>
  );
}
