import { useEffect, useRef, useState } from "react";
import { authHeaderFor } from "../auth";
import type { Rendition } from "../types";

type Format = "hls" | "dash";

interface LevelLike {
  width?: number;
  height?: number;
  bitrate?: number;
  bandwidth?: number;
  name?: string;
  id?: string | number;
}

/**
 * The player's level for a manifest rendition: the same width and height, else the same name, else the closest
 * bitrate. The players list levels in their own order (often not the manifest's), so never by position.
 */
export function pickLevel(levels: readonly LevelLike[], r: Rendition): number {
  const bySize = levels.findIndex((l) => l.width === r.width && l.height === r.height);
  if (bySize >= 0) return bySize;
  const byName = levels.findIndex((l) => l.name === r.name || l.id === r.name);
  if (byName >= 0) return byName;
  const target = r.target_bitrate ?? r.measured_bitrate;
  if (target === undefined || !levels.length) return -1;
  let best = -1;
  let bestGap = Infinity;
  levels.forEach((l, i) => {
    const gap = Math.abs((l.bitrate ?? l.bandwidth ?? 0) - target);
    if (gap < bestGap) {
      best = i;
      bestGap = gap;
    }
  });
  return best;
}

interface Controller {
  /** Fixes the rendition (ABR off), or back to automatic for null. */
  apply: () => void;
  destroy: () => void;
}

interface Props {
  hls: string | null;
  dash: string | null;
  renditions: Rendition[];
  poster?: string | null;
}

/** HLS (hls.js where MSE exists, else native) and DASH (dash.js) playback with a rendition switcher. */
export function Player({ hls, dash, renditions, poster }: Props) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [format, setFormat] = useState<Format>(hls ? "hls" : "dash");
  const [choice, setChoice] = useState("auto");
  const [resolution, setResolution] = useState("—");
  const [error, setError] = useState<string | null>(null);
  const [native, setNative] = useState(false);
  const ctlRef = useRef<Controller | null>(null);
  const selectedRef = useRef<Rendition | null>(null);
  selectedRef.current = renditions.find((r) => r.name === choice) ?? null;
  const url = format === "hls" ? hls : dash;

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const update = () =>
      setResolution(video.videoWidth > 0 && video.videoHeight > 0 ? `${video.videoWidth}x${video.videoHeight}` : "—");
    const events = ["loadedmetadata", "resize", "playing", "emptied"];
    events.forEach((e) => video.addEventListener(e, update));
    return () => events.forEach((e) => video.removeEventListener(e, update));
  }, []);

  useEffect(() => {
    const video = videoRef.current;
    if (!video || !url) return;
    let cancelled = false;
    let ctl: Controller | null = null;
    setError(null);
    setNative(false);

    const start = async () => {
      if (format === "hls") {
        const { default: Hls } = await import("hls.js");
        if (cancelled) return;
        if (Hls.isSupported()) {
          const player = new Hls({
            xhrSetup: (xhr, u) => {
              for (const [k, v] of Object.entries(authHeaderFor(u))) xhr.setRequestHeader(k, v);
            },
          });
          let ready = false;
          const apply = () => {
            if (!ready) return;
            const r = selectedRef.current;
            player.currentLevel = r ? pickLevel(player.levels, r) : -1;
          };
          player.on(Hls.Events.MANIFEST_PARSED, () => {
            ready = true;
            apply();
          });
          player.on(Hls.Events.ERROR, (_event, data) => {
            if (data.fatal) setError(`HLS playback failed: ${data.details}`);
          });
          player.loadSource(url);
          player.attachMedia(video);
          ctl = { apply, destroy: () => player.destroy() };
        } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
          video.src = url;
          setNative(true);
          ctl = {
            apply: () => undefined,
            destroy: () => {
              video.removeAttribute("src");
              video.load();
            },
          };
        } else {
          setError("This browser can play neither HLS through Media Source Extensions nor natively.");
        }
      } else {
        const { MediaPlayer } = await import("dashjs");
        if (cancelled) return;
        const player = MediaPlayer().create();
        player.addRequestInterceptor(async (req) => {
          req.headers = { ...(req.headers ?? {}), ...authHeaderFor(req.url) };
          return req;
        });
        let ready = false;
        const apply = () => {
          if (!ready) return;
          const r = selectedRef.current;
          if (!r) {
            player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: true } } } });
            return;
          }
          const reps = player.getRepresentationsByType("video");
          const i = pickLevel(reps, r);
          player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
          if (i >= 0) player.setRepresentationForTypeById("video", reps[i].id, true);
        };
        player.on(MediaPlayer.events.STREAM_INITIALIZED, () => {
          ready = true;
          apply();
        });
        player.on(MediaPlayer.events.ERROR, (e: unknown) => {
          const msg = (e as { error?: { message?: string } }).error?.message;
          setError(`DASH playback failed${msg ? `: ${msg}` : ""}`);
        });
        player.initialize(video, url, false);
        ctl = { apply, destroy: () => player.reset() };
      }
      if (cancelled) ctl?.destroy();
      else ctlRef.current = ctl;
    };
    start().catch((e: unknown) => {
      if (!cancelled) setError(`The player could not start: ${e instanceof Error ? e.message : String(e)}`);
    });
    return () => {
      cancelled = true;
      ctlRef.current = null;
      ctl?.destroy();
      setResolution("—");
    };
  }, [format, url]);

  useEffect(() => {
    ctlRef.current?.apply();
  }, [choice]);

  if (!hls && !dash) return <p className="muted">No playback links for this job yet.</p>;

  return (
    <div className="player">
      <div className="player-controls">
        <label>
          Format{" "}
          <select value={format} onChange={(e) => setFormat(e.target.value as Format)}>
            {hls && <option value="hls">HLS</option>}
            {dash && <option value="dash">DASH</option>}
          </select>
        </label>
        <label>
          Rendition{" "}
          <select value={choice} onChange={(e) => setChoice(e.target.value)} disabled={native}>
            <option value="auto">auto</option>
            {renditions.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name} ({r.width}x{r.height})
              </option>
            ))}
          </select>
        </label>
        <span>
          Playing: <output data-testid="playing-resolution">{resolution}</output>
        </span>
        {native && <span className="muted">Native HLS: the browser picks the rendition.</span>}
      </div>
      <video data-testid="player" ref={videoRef} controls playsInline muted poster={poster ?? undefined} />
      {error && (
        <p role="alert" className="notice notice-error">
          {error}
        </p>
      )}
    </div>
  );
}
