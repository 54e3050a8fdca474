#!/usr/bin/env node
// The `precept` command. The TypeScript sources are compiled to dist/ by `npm install` (the "prepare" script).
import("../dist/cli/main.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli/main.js")) {
    console.error("precept: the compiled sources are missing; run `npm run build` (or `npm install`) first");
    process.exit(1);
  }
  throw error;
});
