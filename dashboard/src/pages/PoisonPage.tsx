import { useState } from "react";
import { Link } from "react-router-dom";
import { listPoison, retryJob } from "../api";
import { ErrorNotice } from "../components/ErrorNotice";
import { fmtNumber, fmtTime } from "../format";
import { usePoll } from "../usePoll";
import type { PoisonItem } from "../types";

type Outcome = { ok: true; text: string } | { ok: false; error: unknown };

function RetryCell({ item }: { item: PoisonItem }) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  if (!item.job_id) return <span className="muted">no job id</span>;
  const jobId = item.job_id;
  const retry = async () => {
    setBusy(true);
    setOutcome(null);
    try {
      const r = await retryJob(jobId);
      setOutcome({ ok: true, text: `Job ${r.job_id} is ${r.state} again.` });
    } catch (e) {
      setOutcome({ ok: false, error: e });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="retry">
      <button type="button" onClick={retry} disabled={busy} aria-label={`Retry job ${jobId}`}>
        {busy ? "Retrying…" : "Retry"}
      </button>
      {outcome?.ok && (
        <span role="status" className="ok">
          {outcome.text}
        </span>
      )}
      {outcome && !outcome.ok && <ErrorNotice error={outcome.error} action="Retrying a job" />}
    </div>
  );
}

export function PoisonPage() {
  const poll = usePoll((signal) => listPoison(signal), null);
  const items = poll.data?.items ?? [];
  return (
    <section aria-labelledby="poison-title">
      <div className="page-head">
        <h1 id="poison-title">Poison queue</h1>
        <div className="toolbar">
          <button type="button" onClick={poll.reload} disabled={poll.loading}>
            Refresh
          </button>
          <Link to="/">← all jobs</Link>
        </div>
      </div>
      <p className="muted">
        Messages the workers gave up on after repeated failures. Retry puts the job back on the queue (admin role).
      </p>
      <ErrorNotice error={poll.error} />
      {poll.data && items.length === 0 && <p className="empty muted">The poison queue is empty.</p>}
      {items.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Reason</th>
              <th scope="col">Inserted</th>
              <th scope="col">Dequeues</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {items.map((it) => (
              <tr key={it.message_id}>
                <td>
                  {it.job_id ? <Link to={`/jobs/${encodeURIComponent(it.job_id)}`}>{it.job_id}</Link> : "—"}
                  <div className="muted small" title="queue message id">
                    {it.message_id}
                  </div>
                </td>
                <td className="reason">{it.reason ?? "—"}</td>
                <td>{fmtTime(it.inserted_on)}</td>
                <td>{fmtNumber(it.dequeue_count)}</td>
                <td>
                  <RetryCell item={it} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
