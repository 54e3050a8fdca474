/** Why a server could not listen, in one line that says what to do (not an unhandled 'error' event's stack trace). */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const at = `cannot listen on ${host}:${port}`;
  const why: Record<string, string> = {
    EADDRINUSE: "the port is in use (choose another with --port)",
    EACCES: "permission denied (ports below 1024 need privileges; choose another with --port)",
    EADDRNOTAVAIL: "this machine has no such address (check --host)",
    ENOTFOUND: "no such host (check --host)",
    EAI_AGAIN: "the host name could not be resolved (check --host)",
  };
  return new Error(`${at}: ${why[err.code ?? ""] ?? `${err.message} (check --host and --port)`}`);
}
