/**
 * Which store a command uses: the global `--db` (commander reads PRECEPT_DB
 * into it, here at the edge), passed down to `openStore(location)` as a parameter.
 */
import type { Command } from "commander";

function root(command: Command): Command {
  let top = command;
  while (top.parent) top = top.parent;
  return top;
}

/** `--db` (or PRECEPT_DB), else the default `precept.db`. */
export function storeLocation(command: Command): string {
  return root(command).opts<{ db: string }>().db;
}

/** `--db` or PRECEPT_DB when one was given, else undefined (commands with their own default, as `<out>/precept.db`). */
export function givenStoreLocation(command: Command): string | undefined {
  const top = root(command);
  return top.getOptionValueSource("db") === "default" ? undefined : top.opts<{ db: string }>().db;
}
