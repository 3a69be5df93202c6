import { isNum } from "../format";

export function ProgressBar({ value, label }: { value: number | null | undefined; label: string }) {
  if (!isNum(value)) return <span className="muted">—</span>;
  const v = Math.min(1, Math.max(0, value));
  return (
    <span className="progress">
      <progress max={1} value={v} aria-label={label} />
      <span className="progress-text">{Math.round(v * 100)}%</span>
    </span>
  );
}
