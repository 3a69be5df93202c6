import { useState } from "react";
import { HashRouter, NavLink, Route, Routes } from "react-router-dom";
import { forgetToken, getToken } from "./auth";
import { apiBase } from "./config";
import { FleetPage } from "./pages/FleetPage";
import { JobPage } from "./pages/JobPage";
import { JobsPage } from "./pages/JobsPage";
import { PoisonPage } from "./pages/PoisonPage";
import { UploadPage } from "./pages/UploadPage";

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <NavLink to="/">Back to the jobs</NavLink>.
      </p>
    </section>
  );
}

function TokenIndicator() {
  const [token, setToken] = useState(getToken());
  if (!token) return null;
  return (
    <span className="token">
      local token
      <button
        type="button"
        className="link-button"
        onClick={() => {
          forgetToken();
          setToken(null);
        }}
      >
        Forget token
      </button>
    </span>
  );
}

export function App() {
  const nav = ({ isActive }: { isActive: boolean }) => (isActive ? "active" : undefined);
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Transcoder</span>
        <nav aria-label="Main">
          <NavLink to="/" end className={nav}>
            Jobs
          </NavLink>
          <NavLink to="/poison" className={nav}>
            Poison
          </NavLink>
          <NavLink to="/upload" className={nav}>
            Upload
          </NavLink>
          <NavLink to="/fleet" className={nav}>
            Fleet
          </NavLink>
        </nav>
        <span className="spacer" />
        <TokenIndicator />
        <span className="muted small" title="API base URL">
          {apiBase()}
        </span>
      </header>
      <main>
        <Routes>
          <Route path="/" element={<JobsPage />} />
          <Route path="/poison" element={<PoisonPage />} />
          <Route path="/jobs/:id" element={<JobPage />} />
          <Route path="/upload" element={<UploadPage />} />
          <Route path="/fleet" element={<FleetPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </div>
  );
}

/** The app under a HashRouter: static hosting serves index.html for every route. */
export function Root() {
  return (
    <HashRouter>
      <App />
    </HashRouter>
  );
}
