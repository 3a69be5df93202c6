import { cleanup, configure } from "@testing-library/react";
import { afterEach, beforeEach } from "vitest";
import { intervals } from "../config";

const defaults = { ...intervals };

// Room for a slow, shared machine: findBy/waitFor give up after 3 s instead of 1 s.
configure({ asyncUtilTimeout: 3000 });

// jsdom has no media pipeline: keep its "not implemented" noise out of the runs.
HTMLMediaElement.prototype.load = function load() {};
HTMLMediaElement.prototype.pause = function pause() {};
HTMLMediaElement.prototype.play = function play() {
  return Promise.resolve();
};

beforeEach(() => {
  // Fast polling in tests; each test still waits on real timers.
  Object.assign(intervals, { jobs: 40, job: 40, upload: 40, fleet: 40 });
  window.sessionStorage.clear();
  window.history.replaceState(null, "", "/");
});

afterEach(() => {
  cleanup();
  Object.assign(intervals, defaults);
});
