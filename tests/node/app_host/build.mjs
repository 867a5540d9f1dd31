// Bundles the test host (host.mjs with AppBridge and the TypeScript MCP client) for the browser: build.mjs OUTFILE
import { build } from "esbuild";

await build({
  entryPoints: [new URL("./host.mjs", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  platform: "browser",
  outfile: process.argv[2],
  logLevel: "warning",
});
