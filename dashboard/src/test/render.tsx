import { act, render } from "@testing-library/react";
import { Root } from "../App";

/** Renders the whole app (HashRouter included) at a hash route, e.g. "/fleet". */
export function renderAt(route: string) {
  window.location.hash = `#${route}`;
  return render(<Root />);
}

/** Lets real time pass (polls fire) with React's updates applied. */
export function idle(ms: number): Promise<void> {
  return act(() => new Promise<void>((resolve) => setTimeout(resolve, ms)));
}
