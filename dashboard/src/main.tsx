import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Root } from "./App";
import { captureTokenFromUrl } from "./auth";
import "./styles.css";

// Before the router reads the hash: `#token=...` is a credential, not a route.
captureTokenFromUrl();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
