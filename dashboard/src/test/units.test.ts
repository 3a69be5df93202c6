import { describe, expect, it } from "vitest";
import { pathData, seriesPoints } from "../components/VmafChart";
import { fmtBitrate, fmtFrameRate, fmtNumber, fmtRatio, fmtResolution, fmtSeconds } from "../format";
import { listReducer } from "../pages/JobsPage";
import { job } from "./fakeApi";

describe("formatting", () => {
  it("reads missing numbers as n/a", () => {
    expect(fmtNumber(null)).toBe("n/a");
    expect(fmtRatio(undefined)).toBe("n/a");
    expect(fmtSeconds(null)).toBe("n/a");
    expect(fmtBitrate(Number.NaN)).toBe("n/a");
    expect(fmtResolution(0, 240)).toBe("n/a");
    expect(fmtFrameRate("0/0")).toBe("n/a");
  });

  it("formats figures", () => {
    expect(fmtNumber(97.932714, 2)).toBe("97.93");
    expect(fmtRatio(0.584)).toBe("58%");
    expect(fmtSeconds(3)).toBe("3.0 s");
    expect(fmtSeconds(125)).toBe("2 m 05 s");
    expect(fmtSeconds(7300)).toBe("2 h 01 m");
    expect(fmtBitrate(668445)).toBe("668 kb/s");
    expect(fmtBitrate(4_200_000)).toBe("4.20 Mb/s");
    expect(fmtFrameRate("30000/1001")).toBe("29.97 fps");
    expect(fmtFrameRate("25/1", 25)).toBe("25 fps");
  });
});

describe("VMAF series", () => {
  it("places item i at frame i * subsample", () => {
    expect(seriesPoints({ frames: [90, 91, null, 93], subsample: 3 })).toEqual([
      [0, 90],
      [3, 91],
      [9, 93],
    ]);
  });

  it("uses the series' own frame numbers when it lists them, and breaks the line between sampled windows", () => {
    const s = { frames: [80, 81, 82, 83], subsample: 2, index: [100, 102, 500, 502] };
    const pts = seriesPoints(s);
    expect(pts.map((p) => p[0])).toEqual([100, 102, 500, 502]);
    const d = pathData(pts, 2, (f) => f, (v) => v);
    expect(d).toBe("M100.00,80.00 L102.00,81.00 M500.00,82.00 L502.00,83.00");
  });
});

describe("jobs list state", () => {
  const page = (ids: string[], next: string | null = null) => ({ items: ids.map((id) => job(id)), next });

  it("a refresh replaces a single page, and merges in front of more pages without losing the cursor", () => {
    let s = listReducer({ items: [], next: null, pages: 0 }, { type: "first", page: page(["a", "b"], "2") });
    s = listReducer(s, { type: "first", page: page(["z", "a"], "2") });
    expect(s.items.map((j) => j.id)).toEqual(["z", "a"]);
    s = listReducer(s, { type: "more", page: page(["a", "c"], "4") });
    expect(s.items.map((j) => j.id)).toEqual(["z", "a", "c"]);
    s = listReducer(s, { type: "first", page: page(["new", "z"], "2") });
    expect(s.items.map((j) => j.id)).toEqual(["new", "z", "a", "c"]);
    expect(s.next).toBe("4");
    expect(listReducer(s, { type: "reset" })).toEqual({ items: [], next: null, pages: 0 });
  });
});
