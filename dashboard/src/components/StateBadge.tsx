export function StateBadge({ state }: { state: string | null | undefined }) {
  const s = state ?? "unknown";
  return <span className={`badge badge-${s.replace(/[^a-z-]/gi, "")}`}>{s}</span>;
}
