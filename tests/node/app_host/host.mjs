// The test host: what a chat client does with an MCP App, using the ext-apps AppBridge from npm.
// It connects to the server over streamable HTTP, calls a tool, loads the tool's ui:// resource into a sandboxed
// iframe and hands it the tool's input and result. The bridge forwards the app's tools/call and resources/read to
// the server. Bundled for the browser by esbuild (tests/test_app_ui.py does it before the tests).
//
// Query parameters:
//   strict=1     behave as the strict hosts do (Claude): the frame stays hidden, with no height, and no tool data
//                reaches the view until it has completed ui/initialize and sent ui/notifications/initialized;
//                from then on the frame is as tall as the view says it is (ui/notifications/size-changed).
//   server=URL   the MCP endpoint (default: /mcp on this page's origin); on another origin the server must allow
//                this page's origin (CORS).
//   token=T      sent as `Authorization: Bearer T` on every request.
//   download=0   the host offers no file download.
// window.hostLog records, in order, what the host did: "initialized", "shown", "tool-input", "tool-result".
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const HOST = { name: "images-test-host", version: "1.0.0" };
const APPS = { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } };
const THEMES = {
  light: { "--color-background-primary": "#ffffff", "--color-text-primary": "#1a1a1a" },
  dark: { "--color-background-primary": "#1e1e1e", "--color-text-primary": "#f0f0f0" },
};
const options = new URLSearchParams(location.search);
const STRICT = options.get("strict") === "1";
const token = options.get("token");
const server = new URL(options.get("server") ?? "/mcp", location.origin);
const capabilities = { serverTools: {}, serverResources: {}, logging: {} };
if (options.get("download") !== "0") capabilities.downloadFile = {};

const client = new Client(HOST, { capabilities: { extensions: APPS } });
const headers = token ? { Authorization: `Bearer ${token}` } : {};
await client.connect(new StreamableHTTPClientTransport(server, { requestInit: { headers } }));
const { tools } = await client.listTools();
let bridge = null;

function log(event) {
  window.hostLog.push(event);
}

function hostContext(theme) {
  return {
    theme,
    displayMode: "inline",
    platform: "web",
    locale: "en-GB",
    timeZone: "UTC",
    styles: { variables: THEMES[theme] },
  };
}

async function mount(tool, args, theme) {
  const uri = tool._meta.ui.resourceUri;
  const { contents } = await client.readResource({ uri });
  if (bridge) await bridge.close();
  const frame = Object.assign(document.createElement("iframe"), { id: "app", title: "MCP App" });
  frame.setAttribute("sandbox", "allow-scripts");
  if (STRICT) Object.assign(frame.style, { display: "none", height: "0px" });
  document.getElementById("app")?.remove();
  document.body.append(frame);
  window.hostLog = [];
  bridge = new AppBridge(client, HOST, capabilities, { hostContext: hostContext(theme) });
  const ready = new Promise((resolve) => {
    bridge.oninitialized = () => {
      log("initialized");
      frame.style.display = "";
      log("shown");
      bridge.sendToolInput({ arguments: args });
      log("tool-input");
      resolve();
    };
  });
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined && (STRICT || height)) frame.style.height = `${Math.min(height, 2000)}px`;
  };
  bridge.ondownloadfile = async (params) => {
    window.downloads.push(params);
    return {};
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = contents[0].text;
  return ready;
}

window.downloads = [];
window.hostLog = [];
window.host = {
  tools,
  strict: STRICT,
  /** Call a tool as the model would; show its app with the result. Returns the result. */
  async run(name, args, theme = "light") {
    const tool = tools.find((t) => t.name === name);
    const ready = mount(tool, args, theme);
    const result = await client.callTool({ name, arguments: args }, { onprogress: () => {} });
    await ready;
    await bridge.sendToolResult(result);
    log("tool-result");
    return result;
  },
  setTheme(theme) {
    bridge.setHostContext(hostContext(theme));
  },
};
document.body.dataset.ready = "true";
