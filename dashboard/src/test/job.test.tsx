import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import manifestV1 from "../../../tests/data/manifest_v1.json";
import { pickLevel } from "../components/Player";
import { fmtBitrate, fmtNumber } from "../format";
import type { JobDetail, Manifest } from "../types";
import { FakeApi, job } from "./fakeApi";
import { idle, renderAt } from "./render";

// The players, faked at their public API: what the page asks of them is what is checked.
const players = vi.hoisted(() => {
  class FakeHls {
    static instances: FakeHls[] = [];
    static supported = true;
    static isSupported() {
      return FakeHls.supported;
    }
    static Events = { MANIFEST_PARSED: "hlsManifestParsed", ERROR: "hlsError" };
    config: unknown;
    // The level order of the master playlist, not the manifest's: lowest first.
    levels = [
      { width: 160, height: 120, bitrate: 165000 },
      { width: 320, height: 240, bitrate: 660000 },
    ];
    levelSets: number[] = [];
    source: string | null = null;
    media: HTMLMediaElement | null = null;
    destroyed = false;
    handlers = new Map<string, (event: string, data: unknown) => void>();
    private level = -1;
    constructor(config: unknown) {
      this.config = config;
      FakeHls.instances.push(this);
    }
    get currentLevel() {
      return this.level;
    }
    set currentLevel(v: number) {
      this.level = v;
      this.levelSets.push(v);
    }
    on(event: string, fn: (event: string, data: unknown) => void) {
      this.handlers.set(event, fn);
    }
    loadSource(url: string) {
      this.source = url;
    }
    attachMedia(media: HTMLMediaElement) {
      this.media = media;
      queueMicrotask(() => this.handlers.get(FakeHls.Events.MANIFEST_PARSED)?.(FakeHls.Events.MANIFEST_PARSED, {}));
    }
    destroy() {
      this.destroyed = true;
    }
  }

  const events = { STREAM_INITIALIZED: "streamInitialized", ERROR: "error" };
  const makeDashPlayer = () => {
    const handlers = new Map<string, () => void>();
    return {
      handlers,
      on: vi.fn((e: string, fn: () => void) => handlers.set(e, fn)),
      addRequestInterceptor: vi.fn(),
      initialize: vi.fn((..._args: unknown[]) => queueMicrotask(() => handlers.get(events.STREAM_INITIALIZED)?.())),
      updateSettings: vi.fn(),
      getRepresentationsByType: vi.fn(() => [
        { id: "v-hi", width: 320, height: 240, bandwidth: 660000 },
        { id: "v-lo", width: 160, height: 120, bandwidth: 165000 },
      ]),
      setRepresentationForTypeById: vi.fn(),
      reset: vi.fn(),
    };
  };
  const dash = {
    instances: [] as Array<ReturnType<typeof makeDashPlayer>>,
    create() {
      const p = makeDashPlayer();
      dash.instances.push(p);
      return p;
    },
  };
  const MediaPlayer = Object.assign(() => ({ create: dash.create }), { events });
  return { FakeHls, dash, MediaPlayer };
});

vi.mock("hls.js", () => ({ default: players.FakeHls }));
vi.mock("dashjs", () => ({ MediaPlayer: players.MediaPlayer }));

const manifest = manifestV1 as unknown as Manifest;

function detail(over: Partial<JobDetail> = {}): JobDetail {
  return {
    job: { ...job("job-1", { source_name: "sample.mp4" }), record: {} },
    manifest,
    links: {
      manifest: "/api/jobs/job-1/files/manifest.json",
      hls: "/api/jobs/job-1/files/master.m3u8",
      dash: "/api/jobs/job-1/files/manifest.mpd",
      poster: "/api/jobs/job-1/files/poster.jpg",
      quality: { "240p": "/api/jobs/job-1/quality/240p", "120p": "/api/jobs/job-1/quality/120p" },
    },
    ...over,
  };
}

/** The (x, y) points of an SVG path made of M/L commands. */
function points(path: Element): Array<[number, number]> {
  const d = path.getAttribute("d") ?? "";
  return [...d.matchAll(/[ML]\s*(-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

function setup() {
  const api = new FakeApi().install();
  api.details.set("job-1", detail());
  // 240p: 45 scores, one every 2nd frame (frames 0..88); 120p: 10 scores, one every 4th frame (frames 0..36).
  const hi = Array.from({ length: 45 }, (_, i) => (i === 0 ? 100 : i === 1 ? 50 : 90 + (i % 5)));
  const lo = Array.from({ length: 10 }, (_, i) => 70 + i);
  api.series.set("/api/jobs/job-1/quality/240p", { frames: hi, subsample: 2 });
  api.series.set("/api/jobs/job-1/quality/120p", { frames: lo, subsample: 4 });
  return { api, hi, lo };
}

beforeEach(() => {
  players.FakeHls.instances = [];
  players.FakeHls.supported = true;
  players.dash.instances = [];
});

describe("job page", () => {
  it("shows the source facts and the renditions table from the manifest", async () => {
    setup();
    renderAt("/jobs/job-1");
    const table = await screen.findByRole("table", { name: "Renditions" });
    const bodyRows = within(table).getAllByRole("row").slice(1);
    expect(bodyRows).toHaveLength(manifest.renditions.length);
    manifest.renditions.forEach((r, i) => {
      const row = within(bodyRows[i]);
      expect(row.getByRole("rowheader").textContent).toBe(r.name);
      expect(row.getByText(`${r.width}x${r.height}`)).toBeTruthy();
      expect(row.getByText(fmtNumber(r.vmaf!.mean, 2))).toBeTruthy();
      expect(row.getByText(fmtNumber(r.vmaf!.p5, 2))).toBeTruthy();
      expect(row.getByText(r.quality!)).toBeTruthy();
    });
    expect(within(bodyRows[0]).getByText(fmtBitrate(manifest.renditions[0].measured_bitrate))).toBeTruthy();
    expect(within(bodyRows[0]).getByText(/^\d+\.\d\d$/, { selector: "td:nth-child(5)" })).toBeTruthy();

    const fact = (label: string) => within(screen.getByRole("group", { name: label })).getByText(/./, { selector: ".stat-value" });
    expect(fact("Resolution").textContent).toBe("320x240");
    expect(fact("Frame rate").textContent).toBe("30 fps");
    expect(fact("Duration").textContent).toBe("3.0 s");
    expect(fact("Codec").textContent).toBe("h264");
    expect(fact("Bitrate").textContent).toBe("1.16 Mb/s"); // 436822 bytes * 8 / 3 s
  });

  it("draws one VMAF series per rendition, its points from the series JSON", async () => {
    const { api, hi, lo } = setup();
    renderAt("/jobs/job-1");
    const chart = await screen.findByTestId("vmaf-chart");
    const p240 = await within(chart).findByTestId("vmaf-series-240p");
    const p120 = await within(chart).findByTestId("vmaf-series-120p");
    expect(chart.querySelectorAll('[data-testid^="vmaf-series-"]')).toHaveLength(2);
    expect(api.seen("GET", "/api/jobs/job-1/quality/240p")).toHaveLength(1);

    const a = points(p240);
    const b = points(p120);
    expect(a).toHaveLength(hi.length);
    expect(b).toHaveLength(lo.length);
    // Plot area: x 40..708 for frames 0..88 (the longest series' last frame), y 12..230 for VMAF 100..0.
    const x = (frame: number) => 40 + (frame / 88) * 668;
    const y = (v: number) => 12 + (1 - v / 100) * 218;
    expect(a[0][0]).toBeCloseTo(x(0), 1);
    expect(a[0][1]).toBeCloseTo(y(100), 1);
    expect(a[1][0]).toBeCloseTo(x(2), 1); // item 1 is frame 1 * subsample 2
    expect(a[1][1]).toBeCloseTo(y(50), 1);
    expect(a.at(-1)![0]).toBeCloseTo(x(88), 1);
    expect(b.at(-1)![0]).toBeCloseTo(x(36), 1); // item 9 is frame 9 * subsample 4
    expect(b.at(-1)![1]).toBeCloseTo(y(79), 1);
  });

  it("plays HLS through hls.js and the rendition switcher fixes the level by resolution, auto restores ABR", async () => {
    setup();
    renderAt("/jobs/job-1");
    const video = await screen.findByTestId("player");
    await waitFor(() => expect(players.FakeHls.instances).toHaveLength(1));
    const hls = players.FakeHls.instances[0];
    expect(hls.source).toBe("/api/jobs/job-1/files/master.m3u8");
    expect(hls.media).toBe(video);
    await waitFor(() => expect(hls.levelSets).toEqual([-1]));

    const select = screen.getByRole("combobox", { name: "Rendition" });
    await userEvent.selectOptions(select, "240p");
    expect(hls.currentLevel).toBe(1); // 320x240 is the playlist's second level
    await userEvent.selectOptions(select, "120p");
    expect(hls.currentLevel).toBe(0);
    await userEvent.selectOptions(select, "auto");
    expect(hls.levelSets).toEqual([-1, 1, 0, -1]);
  });

  it("shows the playing resolution from the video element", async () => {
    setup();
    renderAt("/jobs/job-1");
    const video = await screen.findByTestId("player");
    await screen.findByTestId("vmaf-series-120p");
    await waitFor(() => expect(players.FakeHls.instances[0]?.levelSets).toEqual([-1]));
    expect(screen.getByTestId("playing-resolution").textContent).toBe("—");
    Object.defineProperty(video, "videoWidth", { configurable: true, value: 320 });
    Object.defineProperty(video, "videoHeight", { configurable: true, value: 240 });
    fireEvent(video, new Event("resize"));
    expect(screen.getByTestId("playing-resolution").textContent).toBe("320x240");
  });

  it("falls back to native HLS where hls.js is not supported", async () => {
    setup();
    players.FakeHls.supported = false;
    const canPlay = vi.spyOn(HTMLMediaElement.prototype, "canPlayType").mockReturnValue("maybe");
    renderAt("/jobs/job-1");
    const video = (await screen.findByTestId("player")) as HTMLVideoElement;
    await waitFor(() => expect(video.getAttribute("src")).toBe("/api/jobs/job-1/files/master.m3u8"));
    expect(canPlay).toHaveBeenCalledWith("application/vnd.apple.mpegurl");
    expect(players.FakeHls.instances).toHaveLength(0);
  });

  it("plays DASH through dash.js and the switcher sets the representation with ABR off", async () => {
    setup();
    renderAt("/jobs/job-1");
    await screen.findByTestId("player");
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Format" }), "dash");
    await waitFor(() => expect(players.dash.instances).toHaveLength(1));
    const dash = players.dash.instances[0];
    expect(dash.initialize).toHaveBeenCalledWith(screen.getByTestId("player"), "/api/jobs/job-1/files/manifest.mpd", false);
    await waitFor(() => expect(players.FakeHls.instances[0]?.destroyed).toBe(true));

    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Rendition" }), "120p");
    expect(dash.updateSettings).toHaveBeenLastCalledWith({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
    expect(dash.setRepresentationForTypeById).toHaveBeenLastCalledWith("video", "v-lo", true);
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Rendition" }), "auto");
    expect(dash.updateSettings).toHaveBeenLastCalledWith({ streaming: { abr: { autoSwitchBitrate: { video: true } } } });
  });

  it("shows the poster and a manifest download link", async () => {
    setup();
    renderAt("/jobs/job-1");
    const img = await screen.findByRole("img", { name: "Poster frame" });
    expect(img.getAttribute("src")).toBe("/api/jobs/job-1/files/poster.jpg");
    const link = screen.getByRole("link", { name: "Download manifest.json" });
    expect(link.getAttribute("href")).toBe("/api/jobs/job-1/files/manifest.json");
    expect(link.hasAttribute("download")).toBe(true);
  });

  it("says when there is no manifest yet, and keeps polling a running job", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("r1", { state: "running", stage: "transcode", progress: 0.25, source_name: "running.mov" })];
    renderAt("/jobs/r1");
    expect(await screen.findByText(/appear here once the job has succeeded/)).toBeTruthy();
    await waitFor(() => expect(api.seen("GET", "/api/jobs/r1").length).toBeGreaterThanOrEqual(3));
    api.jobs = [job("r1", { state: "succeeded", source_name: "running.mov" })];
    await screen.findByText("succeeded");
    const settled = api.seen("GET", "/api/jobs/r1").length;
    await idle(200);
    expect(api.seen("GET", "/api/jobs/r1").length).toBe(settled);
  });

  it("maps renditions to player levels by size, then name, then bitrate", () => {
    const r = manifest.renditions[0];
    expect(pickLevel([{ width: 1, height: 1 }, { width: r.width, height: r.height }], r)).toBe(1);
    expect(pickLevel([{ name: "x" }, { name: r.name }], r)).toBe(1);
    expect(pickLevel([{ bitrate: 100 }, { bitrate: 590000 }, { bitrate: 2_000_000 }], r)).toBe(1);
    expect(pickLevel([], r)).toBe(-1);
  });
});
