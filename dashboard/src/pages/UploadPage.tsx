import { useEffect, useRef, useState, type DragEvent } from "react";
import { Link } from "react-router-dom";
import { createUpload, getJob, listJobs, putBlob } from "../api";
import { ErrorNotice } from "../components/ErrorNotice";
import { StateBadge } from "../components/StateBadge";
import { UPLOAD_MATCH_LIMIT, intervals } from "../config";
import { fmtBytes } from "../format";
import { TERMINAL_STATES, type JobSummary, type UploadTicket } from "../types";

type Phase = "idle" | "requesting" | "uploading" | "watching" | "error";

/** Watches for the job of an uploaded blob: the recent jobs until one has it as its source, then that job. */
function useJobOfBlob(blob: string | null) {
  const [job, setJob] = useState<JobSummary | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!blob) return;
    setJob(null);
    setError(null);
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let found: JobSummary | null = null;
    const poll = async () => {
      try {
        if (!found) {
          const page = await listJobs({ limit: UPLOAD_MATCH_LIMIT }, ctrl.signal);
          found = page.items.find((j) => j.source_name === blob) ?? null;
        } else {
          found = (await getJob(found.id, ctrl.signal)).job;
        }
        if (stopped) return;
        if (found) setJob(found);
        setError(null);
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === "AbortError")) return;
        setError(e);
      }
      if (!stopped && !(found && TERMINAL_STATES.includes(found.state))) timer = setTimeout(poll, intervals.upload);
    };
    void poll();
    return () => {
      stopped = true;
      ctrl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [blob]);
  return { job, error };
}

export function UploadPage() {
  const [phase, setPhase] = useState<Phase>("idle");
  const [file, setFile] = useState<File | null>(null);
  const [ticket, setTicket] = useState<UploadTicket | null>(null);
  const [sent, setSent] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [dragging, setDragging] = useState(false);
  const abortRef = useRef<(() => void) | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const watch = useJobOfBlob(phase === "watching" ? ticket?.blob ?? null : null);

  useEffect(() => () => abortRef.current?.(), []);

  const start = async (f: File) => {
    setFile(f);
    setTicket(null);
    setSent(0);
    setError(null);
    setPhase("requesting");
    const contentType = f.type || "application/octet-stream";
    try {
      const t = await createUpload({ filename: f.name, content_type: contentType, size: f.size });
      setTicket(t);
      setPhase("uploading");
      const put = putBlob(t.upload_url, f, contentType, (loaded) => setSent(loaded));
      abortRef.current = put.abort;
      await put.done;
      abortRef.current = null;
      setPhase("watching");
    } catch (e) {
      abortRef.current = null;
      setError(e);
      setPhase("error");
    }
  };

  const busy = phase === "requesting" || phase === "uploading";
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setDragging(false);
    const f = e.dataTransfer?.files?.[0];
    if (f && !busy) void start(f);
  };
  const reset = () => {
    setPhase("idle");
    setFile(null);
    setTicket(null);
    setError(null);
    if (inputRef.current) inputRef.current.value = "";
  };
  const pct = file && file.size > 0 ? Math.min(100, Math.round((sent / file.size) * 100)) : 0;

  return (
    <section aria-labelledby="upload-title">
      <h1 id="upload-title">Upload a source</h1>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        data-testid="dropzone"
      >
        <p>Drop a video file here, or</p>
        <label className="button">
          Choose a video file
          <input
            ref={inputRef}
            type="file"
            className="visually-hidden"
            disabled={busy}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void start(f);
            }}
          />
        </label>
        <p className="muted small">The file goes straight to blob storage; the service then queues a job for it.</p>
      </div>

      {file && (
        <div className="upload-status" aria-live="polite">
          <p>
            <strong>{file.name}</strong> · {fmtBytes(file.size)}
          </p>
          {phase === "requesting" && <p>Asking for an upload URL…</p>}
          {(phase === "uploading" || phase === "watching") && (
            <p className="progress">
              <progress max={100} value={pct} aria-label="Upload progress" /> <span>{pct}%</span>
            </p>
          )}
          {phase === "watching" && ticket && (
            <div>
              <p>
                Uploaded as <code>{ticket.blob}</code>
                {ticket.container ? (
                  <>
                    {" "}
                    in <code>{ticket.container}</code>
                  </>
                ) : null}
                .
              </p>
              {watch.job ? (
                <p>
                  <Link to={`/jobs/${encodeURIComponent(watch.job.id)}`}>Open job {watch.job.id}</Link>{" "}
                  <StateBadge state={watch.job.state} />
                  {watch.job.state === "running" && watch.job.stage ? (
                    <span className="muted"> · {watch.job.stage}</span>
                  ) : null}
                </p>
              ) : (
                <p className="muted">Waiting for the job to appear…</p>
              )}
              <ErrorNotice error={watch.error} />
            </div>
          )}
          <ErrorNotice error={error} action="Uploading" />
          {busy && (
            <button type="button" onClick={() => abortRef.current?.()}>
              Cancel upload
            </button>
          )}
          {!busy && (
            <button type="button" onClick={reset}>
              Upload another file
            </button>
          )}
        </div>
      )}
    </section>
  );
}
