import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { captureTokenFromUrl, getToken } from "../auth";
import { FakeApi, job } from "./fakeApi";
import { renderAt } from "./render";
import { render } from "@testing-library/react";
import { Root } from "../App";

describe("auth", () => {
  it("reads the token from #token=, removes it from the address bar and sends it as a bearer header", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("a")];
    window.history.replaceState(null, "", "/#token=s3cr%2Ft");
    expect(captureTokenFromUrl()).toBe("s3cr/t");
    expect(window.location.hash).toBe("#/");
    expect(window.location.href).not.toContain("s3cr");
    expect(getToken()).toBe("s3cr/t");
    render(<Root />);
    await screen.findByRole("link", { name: "a.mp4" });
    const req = api.seen("GET", "/api/jobs")[0];
    expect(req.headers.authorization).toBe("Bearer s3cr/t");
  });

  it("keeps the route when the token comes as a parameter of the hash route", () => {
    window.history.replaceState(null, "", "/#/fleet?token=abc&x=1");
    expect(captureTokenFromUrl()).toBe("abc");
    expect(window.location.hash).toBe("#/fleet?x=1");
  });

  it("sends no Authorization header without a token (App Service cookies)", async () => {
    const api = new FakeApi().install();
    api.jobs = [job("a")];
    expect(captureTokenFromUrl()).toBeNull();
    renderAt("/");
    await screen.findByRole("link", { name: "a.mp4" });
    expect(api.seen("GET", "/api/jobs")[0].headers.authorization).toBeUndefined();
  });

  it("shows sign-in guidance on 401", async () => {
    const api = new FakeApi().install();
    api.fail("GET", "/api/jobs", 401, "missing bearer token");
    renderAt("/");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Sign in required");
    expect(alert.textContent).toContain("#token=");
  });

  it("shows 'needs the admin role' on 403", async () => {
    const api = new FakeApi().install();
    api.fail("GET", "/api/fleet", 403, "admin role required");
    renderAt("/fleet");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("needs the admin role");
  });

  it("shows the service's reason for another 4xx", async () => {
    const api = new FakeApi().install();
    api.fail("GET", "/api/jobs", 400, "state must be one of queued, running, succeeded, failed, poisoned");
    renderAt("/?state=bogus");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Error 400");
    expect(alert.textContent).toContain("state must be one of");
    await waitFor(() => expect(api.seen("GET", "/api/jobs")[0].url.searchParams.get("state")).toBe("bogus"));
  });
});
