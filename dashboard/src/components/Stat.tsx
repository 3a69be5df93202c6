import type { ReactNode } from "react";

/** One labelled figure; the group's accessible name is its label. */
export function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="stat" role="group" aria-label={label}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{children}</span>
    </div>
  );
}
