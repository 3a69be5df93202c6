import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { FakeApi } from "./fakeApi";
import { renderAt } from "./render";

function stat(label: string): string {
  return within(screen.getByRole("group", { name: label })).getByText(/./, { selector: ".stat-value" }).textContent ?? "";
}

describe("fleet", () => {
  it("shows workers, utilisation, sessions, fallbacks, queue depth and last hour's jobs", async () => {
    const api = new FakeApi().install();
    api.fleet = {
      workers: [
        { instance: "gpu-0", service: "transcoder-blue", up: true, jobs_inprogress: 2, slots: 3, draining: false },
        { instance: "gpu-1", service: "transcoder-blue", up: false, jobs_inprogress: null, slots: 3, draining: true },
      ],
      gpu_utilization: 0.58,
      encoder_utilization: 0.693,
      nvenc_sessions: 4,
      fallbacks: { "no-gpu": 2, "nvenc-busy": 5 },
      queue_depth: 17,
      jobs_last_hour: { succeeded: 40, failed: 1 },
    };
    renderAt("/fleet");
    const workers = await screen.findByRole("table", { name: "Workers" });
    expect(within(workers).getAllByRole("row")).toHaveLength(3);
    const gpu1 = within(workers).getByRole("rowheader", { name: "gpu-1" }).closest("tr") as HTMLElement;
    expect(within(gpu1).getByText("down")).toBeTruthy();
    expect(within(gpu1).getByText("n/a")).toBeTruthy();
    expect(within(gpu1).getByText("yes")).toBeTruthy();
    expect(stat("GPU utilisation")).toBe("58%");
    expect(stat("Encoder utilisation")).toBe("69%");
    expect(stat("NVENC sessions")).toBe("4");
    expect(stat("Queue depth")).toBe("17");
    expect(stat("Workers up")).toBe("1 / 2");
    const fallbacks = screen.getByRole("table", { name: "GPU fallbacks" });
    expect(within(fallbacks).getAllByRole("row").map((r) => r.textContent)).toEqual(["nvenc-busy5", "no-gpu2"]);
    expect(within(screen.getByRole("table", { name: "Jobs in the last hour" })).getByText("40")).toBeTruthy();
  });

  it("shows missing numbers as n/a (no GPU)", async () => {
    const api = new FakeApi().install();
    api.fleet = {
      workers: [{ instance: "cpu-0", service: null, up: true, jobs_inprogress: null, slots: null, draining: null }],
      gpu_utilization: null,
      encoder_utilization: null,
      nvenc_sessions: null,
      fallbacks: {},
      queue_depth: null,
      jobs_last_hour: null,
    };
    renderAt("/fleet");
    await screen.findByRole("table", { name: "Workers" });
    for (const label of ["GPU utilisation", "Encoder utilisation", "NVENC sessions", "Queue depth"]) {
      expect(stat(label)).toBe("n/a");
    }
    const row = screen.getByRole("rowheader", { name: "cpu-0" }).closest("tr") as HTMLElement;
    expect(within(row).getAllByText("n/a")).toHaveLength(4); // service, in progress, slots, draining
    expect(screen.getByText("No fallbacks.")).toBeTruthy();
  });

  it("shows the reason of a 503 when metrics are not configured", async () => {
    const api = new FakeApi().install();
    renderAt("/fleet");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("metrics are not configured");
    expect(alert.textContent).toContain("503");
    await waitFor(() => expect(api.seen("GET", "/api/fleet").length).toBeGreaterThanOrEqual(2));
  });
});
