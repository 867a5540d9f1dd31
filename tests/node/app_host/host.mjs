// The test host: what a chat client does with an MCP App, using the ext-apps AppBridge from npm.
// It connects to the server over streamable HTTP (same origin: Playwright serves this page at the server's
// address), calls a tool, loads the tool's ui:// resource into a sandboxed iframe and hands it the tool's input
// and result. The bridge forwards the app's tools/call and resources/read to the server.
// Bundled for the browser by esbuild (tests/test_app_ui.py does it before the tests).
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const HOST = { name: "images-test-host", version: "1.0.0" };
const APPS = { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } };
const THEMES = {
  light: { "--color-background-primary": "#ffffff", "--color-text-primary": "#1a1a1a" },
  dark: { "--color-background-primary": "#1e1e1e", "--color-text-primary": "#f0f0f0" },
};

const client = new Client(HOST, { capabilities: { extensions: APPS } });
await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.origin)));
const { tools } = await client.listTools();
let bridge = null;

function hostContext(theme) {
  return { theme, displayMode: "inline", platform: "web", styles: { variables: THEMES[theme] } };
}

async function mount(tool, args, theme) {
  const uri = tool._meta.ui.resourceUri;
  const { contents } = await client.readResource({ uri });
  if (bridge) await bridge.close();
  const frame = Object.assign(document.createElement("iframe"), { id: "app", title: "MCP App" });
  frame.setAttribute("sandbox", "allow-scripts");
  document.getElementById("app")?.remove();
  document.body.append(frame);
  bridge = new AppBridge(client, HOST, { serverTools: {}, serverResources: {}, downloadFile: {}, logging: {} }, {
    hostContext: hostContext(theme),
  });
  const ready = new Promise((resolve) => {
    bridge.oninitialized = () => {
      bridge.sendToolInput({ arguments: args });
      resolve();
    };
  });
  bridge.onsizechange = ({ height }) => { if (height) frame.style.height = `${Math.min(height, 2000)}px`; };
  bridge.ondownloadfile = async (params) => {
    window.downloads.push(params);
    return {};
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = contents[0].text;
  return ready;
}

window.downloads = [];
window.host = {
  tools,
  /** Call a tool as the model would; show its app with the result. Returns the result. */
  async run(name, args, theme = "light") {
    const tool = tools.find((t) => t.name === name);
    const ready = mount(tool, args, theme);
    const result = await client.callTool({ name, arguments: args }, { onprogress: () => {} });
    await ready;
    await bridge.sendToolResult(result);
    return result;
  },
  setTheme(theme) {
    bridge.setHostContext(hostContext(theme));
  },
};
document.body.dataset.ready = "true";
