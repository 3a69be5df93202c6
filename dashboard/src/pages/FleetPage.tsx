import { useState } from "react";
import { getFleet } from "../api";
import { ErrorNotice } from "../components/ErrorNotice";
import { Stat } from "../components/Stat";
import { intervals } from "../config";
import { NA, fmtNumber, fmtRatio } from "../format";
import { usePoll } from "../usePoll";

function yesNo(v: boolean | null | undefined): string {
  return v === true ? "yes" : v === false ? "no" : NA;
}

function Counts({ title, counts, empty }: { title: string; counts: Record<string, number | null> | null; empty: string }) {
  const entries = Object.entries(counts ?? {}).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  return (
    <div className="counts">
      <h2>{title}</h2>
      {counts === null ? (
        <p className="muted">{NA}</p>
      ) : entries.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table className="table" aria-label={title}>
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td className="num">{fmtNumber(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function FleetPage() {
  const [paused, setPaused] = useState(false);
  const poll = usePoll((signal) => getFleet(signal), paused ? null : intervals.fleet);
  const f = poll.data;
  return (
    <section aria-labelledby="fleet-title">
      <div className="page-head">
        <h1 id="fleet-title">Fleet</h1>
        <div className="toolbar">
          <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
            {paused ? "Resume live updates" : "Pause live updates"}
          </button>
        </div>
      </div>
      <ErrorNotice error={poll.error} />
      {f && (
        <>
          <div className="stats">
            <Stat label="GPU utilisation">{fmtRatio(f.gpu_utilization)}</Stat>
            <Stat label="Encoder utilisation">{fmtRatio(f.encoder_utilization)}</Stat>
            <Stat label="NVENC sessions">{fmtNumber(f.nvenc_sessions)}</Stat>
            <Stat label="Queue depth">{fmtNumber(f.queue_depth)}</Stat>
            <Stat label="Workers up">
              {f.workers.filter((w) => w.up === true).length} / {f.workers.length}
            </Stat>
          </div>

          <h2>Workers</h2>
          {f.workers.length === 0 ? (
            <p className="muted">No workers reporting.</p>
          ) : (
            <table className="table" aria-label="Workers">
              <thead>
                <tr>
                  <th scope="col">Instance</th>
                  <th scope="col">Service</th>
                  <th scope="col">Up</th>
                  <th scope="col" className="num">Jobs in progress</th>
                  <th scope="col" className="num">Slots</th>
                  <th scope="col">Draining</th>
                </tr>
              </thead>
              <tbody>
                {f.workers.map((w) => (
                  <tr key={`${w.service ?? ""}/${w.instance}`}>
                    <th scope="row">{w.instance}</th>
                    <td>{w.service ?? NA}</td>
                    <td>
                      <span className={w.up ? "badge badge-succeeded" : w.up === false ? "badge badge-failed" : "badge"}>
                        {w.up === true ? "up" : w.up === false ? "down" : NA}
                      </span>
                    </td>
                    <td className="num">{fmtNumber(w.jobs_inprogress)}</td>
                    <td className="num">{fmtNumber(w.slots)}</td>
                    <td>{yesNo(w.draining)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <div className="columns">
            <Counts title="GPU fallbacks" counts={f.fallbacks} empty="No fallbacks." />
            <Counts title="Jobs in the last hour" counts={f.jobs_last_hour} empty="No jobs finished." />
          </div>
        </>
      )}
    </section>
  );
}
