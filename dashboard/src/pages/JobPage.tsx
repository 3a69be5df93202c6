import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { getJob, getVmafSeries } from "../api";
import { ErrorNotice } from "../components/ErrorNotice";
import { Player } from "../components/Player";
import { ProgressBar } from "../components/ProgressBar";
import { Stat } from "../components/Stat";
import { StateBadge } from "../components/StateBadge";
import { VmafChart, type ChartSeries } from "../components/VmafChart";
import { intervals } from "../config";
import {
  NA,
  fmtBitrate,
  fmtBytes,
  fmtFrameRate,
  fmtNumber,
  fmtResolution,
  fmtSeconds,
  fmtTime,
  isNum,
} from "../format";
import { useAuthedUrl } from "../useAuthedUrl";
import { usePoll } from "../usePoll";
import { TERMINAL_STATES, type Manifest, type VmafSeries } from "../types";

function str(v: unknown): string {
  return typeof v === "string" && v ? v : isNum(v) ? String(v) : NA;
}

/** The source's overall bitrate: as probed, else its size over its duration. */
function sourceBitrate(src: Record<string, unknown>): number | null {
  for (const k of ["bit_rate", "bitrate", "bitrate_bps"]) {
    const v = Number(src[k]);
    if (src[k] !== null && src[k] !== undefined && Number.isFinite(v) && v > 0) return v;
  }
  const size = src.size_bytes;
  const dur = src.duration;
  return isNum(size) && isNum(dur) && dur > 0 ? (size * 8) / dur : null;
}

function SourceFacts({ manifest }: { manifest: Manifest }) {
  const s = manifest.source ?? {};
  return (
    <div className="stats">
      <Stat label="Resolution">{fmtResolution(s.width, s.height)}</Stat>
      <Stat label="Frame rate">{fmtFrameRate(s.frame_rate, s.frame_rate_fps)}</Stat>
      <Stat label="Duration">{fmtSeconds(isNum(s.duration) ? s.duration : null)}</Stat>
      <Stat label="Codec">{str(s.codec)}</Stat>
      <Stat label="Bitrate">{fmtBitrate(sourceBitrate(s))}</Stat>
      <Stat label="Container">{str(s.container)}</Stat>
      <Stat label="Size">{fmtBytes(isNum(s.size_bytes) ? s.size_bytes : null)}</Stat>
      <Stat label="Pixel format">
        {str(s.pix_fmt)}
        {s.hdr === true ? " · HDR" : ""}
      </Stat>
    </div>
  );
}

function RenditionsTable({ manifest }: { manifest: Manifest }) {
  return (
    <table className="table" aria-label="Renditions">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Resolution</th>
          <th scope="col">Bitrate</th>
          <th scope="col">Codec</th>
          <th scope="col">VMAF mean</th>
          <th scope="col">VMAF p5</th>
          <th scope="col">Verdict</th>
        </tr>
      </thead>
      <tbody>
        {manifest.renditions.map((r) => (
          <tr key={r.name}>
            <th scope="row">{r.name}</th>
            <td>{fmtResolution(r.width, r.height)}</td>
            <td title={isNum(r.target_bitrate) ? `target ${fmtBitrate(r.target_bitrate)}` : undefined}>
              {fmtBitrate(r.measured_bitrate ?? r.target_bitrate)}
            </td>
            <td>{r.codec ?? NA}</td>
            <td>{fmtNumber(r.vmaf?.mean, 2)}</td>
            <td>{fmtNumber(r.vmaf?.p5, 2)}</td>
            <td>
              <span className={`verdict verdict-${r.quality ?? "unchecked"}`}>{r.quality ?? "unchecked"}</span>
              {isNum(r.min_vmaf) ? <span className="muted small"> (min {r.min_vmaf})</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function QualityChart({ quality, order }: { quality: Record<string, string>; order: string[] }) {
  const key = JSON.stringify(quality);
  const [series, setSeries] = useState<Record<string, VmafSeries>>({});
  const [errors, setErrors] = useState<Record<string, unknown>>({});

  useEffect(() => {
    const ctrl = new AbortController();
    const entries = Object.entries(JSON.parse(key) as Record<string, string>).filter(([, url]) => !!url);
    setSeries({});
    setErrors({});
    for (const [name, url] of entries) {
      getVmafSeries(url, ctrl.signal)
        .then((s) => setSeries((cur) => ({ ...cur, [name]: s })))
        .catch((e: unknown) => {
          if (!(e instanceof DOMException && e.name === "AbortError")) setErrors((cur) => ({ ...cur, [name]: e }));
        });
    }
    return () => ctrl.abort();
  }, [key]);

  const names = [...order.filter((n) => n in series), ...Object.keys(series).filter((n) => !order.includes(n))];
  const chart: ChartSeries[] = names.map((name) => ({ name, series: series[name] }));
  return (
    <>
      {chart.length > 0 ? <VmafChart series={chart} /> : <p className="muted">Loading the per-frame scores…</p>}
      {Object.entries(errors).map(([name, e]) => (
        <div key={name}>
          <span className="muted small">VMAF series of {name}:</span> <ErrorNotice error={e} />
        </div>
      ))}
    </>
  );
}

export function JobPage() {
  const { id = "" } = useParams();
  // Polled until the job settles.
  const poll = usePoll((signal) => getJob(id, signal), intervals.job, id, (d) => TERMINAL_STATES.includes(d.job.state));
  const detail = poll.data;
  const links = detail?.links ?? null;
  const poster = useAuthedUrl(links?.poster);
  const manifestHref = useAuthedUrl(links?.manifest);

  if (!detail) {
    return (
      <section>
        <h1>Job {id}</h1>
        <ErrorNotice error={poll.error} />
        {!poll.error && <p className="muted">Loading…</p>}
      </section>
    );
  }

  const { job, manifest } = detail;
  const d = job.durations;
  return (
    <section aria-labelledby="job-title">
      <div className="page-head">
        <h1 id="job-title">
          {job.source_name ?? job.id} <StateBadge state={job.state} />
        </h1>
        <div className="toolbar">
          <Link to="/">← jobs</Link>
        </div>
      </div>
      <ErrorNotice error={poll.error} />

      <div className="stats">
        <Stat label="Job id">
          <code>{job.id}</code>
        </Stat>
        <Stat label="Stage">{job.stage ?? NA}</Stat>
        <Stat label="Progress">
          <ProgressBar value={job.progress} label="Job progress" />
        </Stat>
        <Stat label="Attempts">{fmtNumber(job.attempts)}</Stat>
        <Stat label="Encoder">{job.encoder ?? NA}</Stat>
        <Stat label="Fallback reason">{job.fallback_reason ?? "none"}</Stat>
        <Stat label="Submitted">{fmtTime(job.submitted_at)}</Stat>
        <Stat label="Finished">{fmtTime(job.finished_at)}</Stat>
        <Stat label="Download">{fmtSeconds(d?.download)}</Stat>
        <Stat label="Transcode">{fmtSeconds(d?.transcode)}</Stat>
        <Stat label="Upload">{fmtSeconds(d?.upload)}</Stat>
      </div>
      {job.error && (
        <p className="notice notice-error">
          <strong>Error:</strong> {job.error}
        </p>
      )}

      {!manifest ? (
        <p className="muted">The manifest, renditions and playback appear here once the job has succeeded.</p>
      ) : (
        <>
          <h2>Source</h2>
          <SourceFacts manifest={manifest} />

          <h2>Renditions</h2>
          <RenditionsTable manifest={manifest} />

          <h2>Per-frame VMAF</h2>
          {links?.quality && Object.keys(links.quality).length > 0 ? (
            <QualityChart quality={links.quality} order={manifest.renditions.map((r) => r.name)} />
          ) : (
            <p className="muted">
              No per-frame scores{manifest.quality?.reason ? `: ${manifest.quality.reason}` : " for this job"}.
            </p>
          )}

          <h2>Playback</h2>
          <Player
            hls={links?.hls ?? null}
            dash={links?.dash ?? null}
            renditions={manifest.renditions}
            poster={poster}
          />
        </>
      )}

      {(poster || manifestHref) && (
        <div className="assets">
          {poster && (
            <figure>
              <img src={poster} alt="Poster frame" className="poster" />
              <figcaption className="muted small">Poster</figcaption>
            </figure>
          )}
          {manifestHref && (
            <a href={manifestHref} download="manifest.json" className="button">
              Download manifest.json
            </a>
          )}
        </div>
      )}
    </section>
  );
}
