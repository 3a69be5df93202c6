import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeApi, job } from "./fakeApi";
import { renderAt } from "./render";

function clip(): File {
  return new File([new Uint8Array(4096)], "clip.mp4", { type: "video/mp4" });
}

describe("upload", () => {
  it("POSTs the file's facts, PUTs it to the returned URL with the blob headers, then links its job", async () => {
    const api = new FakeApi().install();
    window.sessionStorage.setItem("transcoder-dashboard.token", "local-secret");
    api.jobs = [job("older", { source_name: "older.mp4" })];
    // The ingest function queues the job a moment after the blob lands: not in the first list the page reads.
    api.afterPut = () => {
      let lists = 0;
      const original = api.fetch.bind(api);
      api.fetch = async (input, init) => {
        const url = new URL(String(input), window.location.href);
        if (url.pathname === "/api/jobs" && ++lists === 2) {
          api.jobs = [job("job-77", { source_name: api.uploadBlob, state: "queued", progress: null }), ...api.jobs];
        }
        return original(input, init);
      };
    };
    renderAt("/upload");
    const file = clip();
    await userEvent.upload(screen.getByLabelText("Choose a video file"), file);

    const post = await waitFor(() => {
      const seen = api.seen("POST", "/api/uploads");
      expect(seen).toHaveLength(1);
      return seen[0];
    });
    expect(post.body).toEqual({ filename: "clip.mp4", content_type: "video/mp4", size: 4096 });
    expect(post.headers.authorization).toBe("Bearer local-secret");

    const put = await waitFor(() => {
      const seen = api.requests.filter((r) => r.method === "PUT");
      expect(seen).toHaveLength(1);
      return seen[0];
    });
    expect(put.url.href).toBe(api.uploadUrl);
    expect(put.body).toBe(file);
    expect(put.headers["x-ms-blob-type"]).toBe("BlockBlob");
    expect(put.headers["content-type"]).toBe("video/mp4");
    expect(put.headers.authorization).toBeUndefined(); // never the bearer token to a SAS URL

    const link = await screen.findByRole("link", { name: "Open job job-77" });
    expect(link.getAttribute("href")).toBe("#/jobs/job-77");
    expect(screen.getByText("queued")).toBeTruthy();
    expect(screen.getByRole("progressbar", { name: "Upload progress" })).toHaveProperty("value", 100);
    const lists = api.seen("GET", "/api/jobs");
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists[0].url.searchParams.get("limit")).toBe("50");

    // Then the job itself, until it settles.
    api.jobs[0] = { ...api.jobs[0], state: "succeeded", progress: 1 };
    expect(await screen.findByText("succeeded")).toBeTruthy();
    expect(api.seen("GET", "/api/jobs/job-77").length).toBeGreaterThanOrEqual(1);
  });

  it("shows the service's reason when the upload is refused", async () => {
    const api = new FakeApi().install();
    api.fail("POST", "/api/uploads", 413, "the file is larger than the 50 GiB limit");
    renderAt("/upload");
    await userEvent.upload(screen.getByLabelText("Choose a video file"), clip());
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("the file is larger than the 50 GiB limit");
    expect(alert.textContent).toContain("413");
    expect(api.requests.filter((r) => r.method === "PUT")).toHaveLength(0);
  });

  it("shows the storage error when the PUT fails", async () => {
    const api = new FakeApi().install();
    api.fail("PUT", "/sources/clip-123.mp4", 403, "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code></Error>");
    renderAt("/upload");
    await userEvent.upload(screen.getByLabelText("Choose a video file"), clip());
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("blob storage refused the upload (HTTP 403: AuthenticationFailed)");
    expect(alert.textContent).not.toContain("admin");
  });
});
