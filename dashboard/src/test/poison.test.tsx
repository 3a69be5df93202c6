import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeApi } from "./fakeApi";
import { renderAt } from "./render";

function withPoison() {
  const api = new FakeApi().install();
  api.poison = [
    { message_id: "m-1", job_id: "job-9", reason: "ffmpeg exited 1: moov atom not found", inserted_on: "2026-01-01T09:00:00Z", dequeue_count: 5 },
    { message_id: "m-2", job_id: "job-10", reason: "lease lost three times", inserted_on: "2026-01-01T09:05:00Z", dequeue_count: 3 },
  ];
  return api;
}

describe("poison queue", () => {
  it("lists each message's reason; Retry calls POST retry and shows the result", async () => {
    const api = withPoison();
    renderAt("/poison");
    expect(await screen.findByText("ffmpeg exited 1: moov atom not found")).toBeTruthy();
    expect(screen.getByText("lease lost three times")).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Retry job job-9" }));
    const status = await screen.findByRole("status");
    expect(status.textContent).toBe("Job job-9 is queued again.");
    expect(api.retried).toEqual(["job-9"]);
    expect(api.seen("POST", "/api/jobs/job-9/retry")).toHaveLength(1);
  });

  it("says the retry needs the admin role on 403", async () => {
    const api = withPoison();
    api.fail("POST", "/api/jobs/job-10/retry", 403, "forbidden");
    renderAt("/poison");
    const row = (await screen.findByText("lease lost three times")).closest("tr")!;
    await userEvent.click(within(row as HTMLElement).getByRole("button", { name: "Retry job job-10" }));
    const alert = await within(row as HTMLElement).findByRole("alert");
    expect(alert.textContent).toContain("needs the admin role");
  });

  it("shows the reason of a 409", async () => {
    const api = withPoison();
    api.fail("POST", "/api/jobs/job-9/retry", 409, "job job-9 is succeeded, not poisoned");
    renderAt("/poison");
    await userEvent.click(await screen.findByRole("button", { name: "Retry job job-9" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Error 409");
    expect(alert.textContent).toContain("job job-9 is succeeded, not poisoned");
  });

  it("says so when the poison queue is empty", async () => {
    new FakeApi().install();
    renderAt("/poison");
    expect(await screen.findByText("The poison queue is empty.")).toBeTruthy();
  });
});
