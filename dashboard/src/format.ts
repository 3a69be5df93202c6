// Display helpers: every missing number reads "n/a".

export const NA = "n/a";

export function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

export function fmtNumber(v: number | null | undefined, digits = 0): string {
  return isNum(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : NA;
}

export function fmtSeconds(s: number | null | undefined): string {
  if (!isNum(s)) return NA;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

export function fmtBitrate(bps: number | null | undefined): string {
  if (!isNum(bps)) return NA;
  if (bps >= 1_000_000) return `${(bps / 1_000_000).toFixed(2)} Mb/s`;
  return `${Math.round(bps / 1000)} kb/s`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (!isNum(n)) return NA;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A 0-1 ratio as a percentage. */
export function fmtRatio(r: number | null | undefined): string {
  return isNum(r) ? `${Math.round(r * 100)}%` : NA;
}

/** "30000/1001" or 29.97 → "29.97 fps". */
export function fmtFrameRate(rate: unknown, fps?: unknown): string {
  let v: number | null = isNum(fps) ? fps : null;
  if (v === null && typeof rate === "string") {
    const [n, d] = rate.split("/").map(Number);
    if (isNum(n) && isNum(d) && d !== 0) v = n / d;
    else if (isNum(n) && rate.indexOf("/") < 0) v = n;
  } else if (v === null && isNum(rate)) v = rate;
  if (v === null || v <= 0) return NA;
  return `${Number.isInteger(v) ? v : v.toFixed(2)} fps`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return NA;
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString();
}

export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return NA;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function fmtResolution(w: unknown, h: unknown): string {
  return isNum(w) && isNum(h) && w > 0 && h > 0 ? `${w}x${h}` : NA;
}
