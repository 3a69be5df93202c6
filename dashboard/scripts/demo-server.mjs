// Serves dist/ with an in-memory fake of the /api, for demos and browser checks without the back end:
//   npm run build && node scripts/demo-server.mjs [--port 4173] [--jobs 10000] [--page N] [--token TOKEN]
// --page N answers N jobs a page whatever the limit asked (the real API: limit 1-200): --page 10000 puts every job in
// the first page, to see the list with 10,000 rows.
// then open http://127.0.0.1:4173/ (or /#token=TOKEN when --token is given).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const port = Number(args.port ?? 4173);
const count = Number(args.jobs ?? 10000);
const token = args.token ?? null;
const fixedPage = args.page ? Number(args.page) : null;
const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const states = ["succeeded", "succeeded", "succeeded", "running", "queued", "failed", "poisoned"];
const start = Date.parse("2026-01-01T00:00:00Z");

const jobs = Array.from({ length: count }, (_, i) => {
  const state = states[i % states.length];
  const t = new Date(start + (count - i) * 60_000).toISOString();
  return {
    id: `job-${String(i).padStart(5, "0")}`,
    state,
    stage: state === "running" ? "transcode" : state === "queued" ? "queued" : "done",
    progress: state === "running" ? (i % 100) / 100 : state === "succeeded" ? 1 : null,
    source_name: `uploads/source-${i}.mp4`,
    source_container: "sources",
    submitted_at: t,
    updated_at: t,
    finished_at: state === "succeeded" || state === "failed" ? t : null,
    attempts: state === "poisoned" ? 5 : 1,
    encoder: i % 11 === 0 ? "libx264" : "h264_nvenc",
    fallback_reason: i % 11 === 0 ? "no-gpu: no CUDA device visible" : null,
    error: state === "failed" ? "ffmpeg exited 1: Invalid data found when processing input" : null,
    durations: { download: 1 + (i % 7), transcode: state === "queued" ? null : 20 + (i % 90), upload: state === "succeeded" ? 2.5 : null },
  };
});

const renditions = [
  ["1080p", 1920, 1080, 5_000_000, 95.1, 91.2],
  ["720p", 1280, 720, 3_000_000, 92.4, 87.9],
  ["480p", 854, 480, 1_200_000, 84.7, 78.3],
].map(([name, width, height, bitrate, mean, p5], i) => ({
  name, width, height, path: `media_${i}.m3u8`, init: `init_${i}.m4s`, segments: 30, codec: "avc1.640028",
  encoder: "h264_nvenc", frame_rate: "30/1", target_bitrate: bitrate, max_bitrate: bitrate * 1.1,
  measured_bitrate: Math.round(bitrate * 1.02), peak_bitrate: Math.round(bitrate * 1.3), size_bytes: bitrate * 7.5,
  min_vmaf: 80, vmaf: { mean, harmonic_mean: mean - 0.2, p5, min: p5 - 5, count: 900, model: "vmaf_v0.6.1", subsample: 2,
    device: "cuda", alignment: "aligned", warnings: [], series: `quality/${name}.json` },
  quality: p5 >= 80 ? "pass" : "below-threshold",
}));

function detail(job) {
  const done = job.state === "succeeded";
  const base = `/api/jobs/${job.id}`;
  return {
    job: { ...job, record: {} },
    manifest: done ? {
      schema: "transcode-manifest/1",
      source: { size_bytes: 187_000_000, container: "mov,mp4,m4a,3gp,3g2,mj2", codec: "h264", duration: 60, width: 1920,
        height: 1080, frame_rate: "30/1", frame_rate_fps: 30, pix_fmt: "yuv420p", hdr: false },
      profile: "q", codec: "h264", encoder: "h264_nvenc", encoder_kind: "gpu", fallback_reason: null,
      hls: "master.m3u8", dash: "manifest.mpd", poster: "poster.jpg", renditions,
      quality_policy: "flag", quality: { measured: true, sampling: "full", model: "vmaf_v0.6.1" }, flagged: [], timings: {},
    } : null,
    links: done ? {
      manifest: `${base}/manifest.json`, hls: `${base}/master.m3u8`, dash: `${base}/manifest.mpd`, poster: null,
      quality: Object.fromEntries(renditions.map((r) => [r.name, `${base}/quality/${r.name}`])),
    } : null,
  };
}

function series(name) {
  const level = { "1080p": 95, "720p": 92, "480p": 85 }[name] ?? 90;
  return { frames: Array.from({ length: 900 }, (_, i) => Math.min(100, level + 4 * Math.sin(i / 40) - (i % 173 === 0 ? 15 : 0))), subsample: 2 };
}

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const path = url.pathname;
  if (path.startsWith("/api/")) {
    if (token && req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: "missing or wrong bearer token" });
    let m;
    if (req.method === "GET" && path === "/api/jobs") {
      const state = url.searchParams.get("state");
      const asked = Number(url.searchParams.get("limit") ?? 50);
      if (!(asked >= 1 && asked <= 200)) return send(res, 400, { error: "limit must be 1 to 200" });
      const limit = fixedPage ?? asked;
      const offset = Number(url.searchParams.get("cursor") ?? 0);
      const all = state ? jobs.filter((j) => j.state === state) : jobs;
      return send(res, 200, { items: all.slice(offset, offset + limit), next: offset + limit < all.length ? String(offset + limit) : null });
    }
    if (req.method === "GET" && (m = /^\/api\/jobs\/([^/]+)\/quality\/([^/]+)$/.exec(path))) return send(res, 200, series(m[2]));
    if (req.method === "GET" && (m = /^\/api\/jobs\/([^/]+)$/.exec(path))) {
      const job = jobs.find((j) => j.id === m[1]);
      return job ? send(res, 200, detail(job)) : send(res, 404, { error: "no such job" });
    }
    if (req.method === "POST" && (m = /^\/api\/jobs\/([^/]+)\/retry$/.exec(path))) {
      const job = jobs.find((j) => j.id === m[1]);
      if (!job || job.state !== "poisoned") return send(res, 409, { error: "only a poisoned job can be retried" });
      job.state = "queued";
      return send(res, 202, { job_id: job.id, state: "queued" });
    }
    if (req.method === "GET" && path === "/api/poison") {
      return send(res, 200, { items: jobs.filter((j) => j.state === "poisoned").slice(0, 20).map((j, i) => ({
        message_id: `msg-${i}`, job_id: j.id, reason: "the worker failed 5 times: ffmpeg exited 1", inserted_on: j.updated_at, dequeue_count: 5,
      })) });
    }
    if (req.method === "POST" && path === "/api/uploads") return send(res, 503, { error: "uploads need blob storage: not in the demo" });
    if (req.method === "GET" && path === "/api/fleet") {
      return send(res, 200, {
        workers: [
          { instance: "gpu-node-0", service: "transcoder-blue", up: true, jobs_inprogress: 3, slots: 4, draining: false },
          { instance: "gpu-node-1", service: "transcoder-blue", up: true, jobs_inprogress: 2, slots: 4, draining: false },
          { instance: "cpu-node-0", service: "transcoder-green", up: false, jobs_inprogress: null, slots: null, draining: true },
        ],
        gpu_utilization: 0.62, encoder_utilization: 0.71, nvenc_sessions: 5, fallbacks: { "no-gpu": 3 },
        queue_depth: 12, jobs_last_hour: { succeeded: 118, failed: 2, poisoned: 1 },
      });
    }
    return send(res, 404, { error: `no route ${req.method} ${path}` });
  }
  const file = normalize(join(dist, path === "/" ? "index.html" : path));
  if (!file.startsWith(dist)) return send(res, 403, { error: "outside dist" });
  try {
    const body = await readFile(file);
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    send(res, 404, { error: "not found" });
  }
}).listen(port, "127.0.0.1", () => {
  console.log(`dashboard demo on http://127.0.0.1:${port}/${token ? `#token=${token}` : ""} (${count} jobs)`);
});
