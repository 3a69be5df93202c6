import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mergeFirstPage } from "../pages/JobsPage";
import { FakeApi, job } from "./fakeApi";
import { idle, renderAt } from "./render";

function rows(): HTMLElement[] {
  return screen.queryAllByTestId("job-row");
}

describe("jobs list", () => {
  it("renders rows from the API with state, progress, encoder, fallback and durations", async () => {
    const api = new FakeApi().install();
    api.jobs = [
      job("a", { source_name: "alpha.mov", state: "running", progress: 0.4, stage: "transcode", durations: { download: 2, transcode: null, upload: null } }),
      job("b", { source_name: "bravo.mxf", encoder: "libx264", fallback_reason: "no-gpu: no device visible" }),
      job("c", { source_name: "charlie.mp4", state: "failed", progress: null, error: "decode error" }),
    ];
    renderAt("/");
    expect(await screen.findByRole("link", { name: "alpha.mov" })).toHaveProperty("hash", "#/jobs/a");
    expect(rows()).toHaveLength(3);
    const alpha = rows()[0];
    expect(within(alpha).getByText("running")).toBeTruthy();
    expect(within(alpha).getByRole("progressbar", { name: "Progress of alpha.mov" })).toHaveProperty("value", 0.4);
    expect(within(alpha).getByText("40%")).toBeTruthy();
    expect(within(alpha).getByText("↓ 2.0 s")).toBeTruthy();
    expect(within(alpha).getByText("⚙ n/a")).toBeTruthy();
    const bravo = rows()[1];
    expect(within(bravo).getByText("libx264")).toBeTruthy();
    expect(within(bravo).getByText(/no-gpu: no device visible/)).toBeTruthy();
    expect(within(bravo).getByText("⚙ 42 s")).toBeTruthy();
    expect(within(rows()[2]).getByText("failed")).toBeTruthy();
    const req = api.seen("GET", "/api/jobs")[0];
    expect(req.url.searchParams.has("state")).toBe(false);
    expect(req.url.searchParams.get("limit")).toBe("200");
  });

  it("filters by state: the tab sets state= in the URL and in the request", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("ok1"), job("bad1", { state: "failed" }), job("ok2"), job("bad2", { state: "failed" })];
    renderAt("/");
    await waitFor(() => expect(rows()).toHaveLength(4));
    await userEvent.click(screen.getByRole("tab", { name: "failed" }));
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(window.location.hash).toBe("#/?state=failed");
    expect(screen.getByRole("tab", { name: "failed" }).getAttribute("aria-selected")).toBe("true");
    const last = api.seen("GET", "/api/jobs").at(-1)!;
    expect(last.url.searchParams.get("state")).toBe("failed");
    expect(screen.queryByRole("link", { name: "ok1.mp4" })).toBeNull();
    expect(screen.getByRole("link", { name: "bad2.mp4" })).toBeTruthy();
  });

  it("reads the state filter from the URL on load", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("q1", { state: "queued" }), job("s1")];
    renderAt("/?state=queued");
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(api.seen("GET", "/api/jobs")[0].url.searchParams.get("state")).toBe("queued");
  });

  it("takes the page size from limit= in the URL", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("l1")];
    renderAt("/?limit=120");
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(api.seen("GET", "/api/jobs")[0].url.searchParams.get("limit")).toBe("120");
  });

  it("shows the newest submission first (the API pages in job-id order)", async () => {
    const api = new FakeApi().install();
    api.jobs = [
      job("0a", { source_name: "middle.mp4", submitted_at: "2026-01-02T00:00:00Z" }),
      job("1b", { source_name: "oldest.mp4", submitted_at: "2026-01-01T00:00:00Z" }),
      job("2c", { source_name: "unknown.mp4", submitted_at: null }),
      job("3d", { source_name: "newest.mp4", submitted_at: "2026-01-03T00:00:00Z" }),
    ];
    renderAt("/");
    await waitFor(() => expect(rows()).toHaveLength(4));
    expect(rows().map((r) => within(r).getByRole("link").textContent)).toEqual([
      "newest.mp4",
      "middle.mp4",
      "oldest.mp4",
      "unknown.mp4",
    ]);
  });

  it("'Load more' sends the cursor and appends the next page", async () => {
    const api = new FakeApi().install();
    api.jobs = Array.from({ length: 250 }, (_, i) => job(`j${i}`));
    renderAt("/");
    const table = await screen.findByRole("table", { name: "Jobs" });
    await waitFor(() => expect(table.getAttribute("aria-rowcount")).toBe("201"));
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(table.getAttribute("aria-rowcount")).toBe("251"));
    const withCursor = api.seen("GET", "/api/jobs").filter((r) => r.url.searchParams.has("cursor"));
    expect(withCursor).toHaveLength(1);
    expect(withCursor[0].url.searchParams.get("cursor")).toBe("200");
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    expect(screen.getByText("End of the list.")).toBeTruthy();
  });

  it("virtualises: with 10,000 jobs the DOM holds fewer than 100 rows, and scrolling shows the rows in view", async () => {
    const api = new FakeApi().install();
    api.onePage = true;
    api.jobs = Array.from({ length: 10_000 }, (_, i) => job(`v${i}`, { source_name: `video-${i}.mp4` }));
    const { container } = renderAt("/");
    const table = await screen.findByRole("table", { name: "Jobs" });
    await waitFor(() => expect(table.getAttribute("aria-rowcount")).toBe("10001"));
    const drawn = container.querySelectorAll('[role="row"]').length;
    expect(drawn).toBeGreaterThan(5);
    expect(drawn).toBeLessThan(100);
    expect(screen.getByRole("link", { name: "video-0.mp4" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "video-5000.mp4" })).toBeNull();

    const body = screen.getByRole("rowgroup", { name: "Job rows" });
    body.scrollTop = 5000 * 44;
    fireEvent.scroll(body);
    expect(await screen.findByRole("link", { name: "video-5000.mp4" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "video-0.mp4" })).toBeNull();
    expect(container.querySelectorAll('[role="row"]').length).toBeLessThan(100);
  });

  it("polls the list and stops while paused", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("p1")];
    renderAt("/");
    await waitFor(() => expect(api.seen("GET", "/api/jobs").length).toBeGreaterThanOrEqual(3));
    api.jobs = [job("p2", { source_name: "new-arrival.mp4", state: "queued" }), job("p1")];
    expect(await screen.findByRole("link", { name: "new-arrival.mp4" })).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Pause live updates" }));
    const count = api.seen("GET", "/api/jobs").length;
    await idle(200);
    expect(api.seen("GET", "/api/jobs").length).toBe(count);
    await userEvent.click(screen.getByRole("button", { name: "Resume live updates" }));
    await waitFor(() => expect(api.seen("GET", "/api/jobs").length).toBeGreaterThan(count));
  });

  it("merges a fresh first page in front of the loaded rows without duplicates", () => {
    const merged = mergeFirstPage([job("a"), job("b"), job("c")], [job("n"), job("a", { state: "failed" })]);
    expect(merged.map((j) => j.id)).toEqual(["n", "a", "b", "c"]);
    expect(merged[1].state).toBe("failed");
  });
});
