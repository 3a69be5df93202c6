import { ApiError } from "../api";

/** Shows why a request failed: sign-in guidance for 401, the admin role for 403, else the service's reason. */
export function ErrorNotice({ error, action }: { error: unknown; action?: string }) {
  if (!error) return null;
  if (error instanceof ApiError && error.status === 401) {
    return (
      <div role="alert" className="notice notice-error">
        <strong>Sign in required.</strong> On Azure, <a href="/.auth/login/aad">sign in</a> with your organisation
        account and reload. On the local stack, open the dashboard with the link it printed (it ends in{" "}
        <code>#token=…</code>).
      </div>
    );
  }
  if (error instanceof ApiError && error.status === 403) {
    return (
      <div role="alert" className="notice notice-error">
        <strong>Forbidden:</strong> {action ? `${action} needs the admin role.` : "this needs the admin role."} Ask an
        administrator to grant it to your account.
      </div>
    );
  }
  const what =
    error instanceof ApiError ? (error.status === 503 ? "Unavailable (503)" : `Error ${error.status}`) : "Error";
  const why =
    error instanceof ApiError
      ? error.reason ?? error.message
      : error instanceof TypeError
        ? `cannot reach the API (${error.message})`
        : error instanceof Error
          ? error.message
          : String(error);
  return (
    <div role="alert" className="notice notice-error">
      <strong>{what}:</strong> {why}
    </div>
  );
}
