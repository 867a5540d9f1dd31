// The official TypeScript SDK clients against mcp-server-images: the steps a client UI takes in its first minute,
// with the monolithic 1.x SDK (`@modelcontextprotocol/sdk`, the legacy initialize handshake) or the 2.x client
// (`@modelcontextprotocol/client`, pinned to the 2026-07-28 protocol).
//
// Usage: node ts_client.mjs SDK STEPS stdio '{"command": ..., "args": [...], "env": {...}}' OUT.json
//        node ts_client.mjs SDK STEPS http http://127.0.0.1:PORT/mcp OUT.json
// SDK is "sdk1" or "client2"; STEPS is "session" (tools, progress, resources, prompts, completions) or "job" (a call
// that outlives the server's response deadline, handed off to get_job).
//
// It writes what it saw to OUT.json for the pytest test to assert on (stdout may carry other tools' noise), and
// appends each progress message (and "job <id>" when a call is handed off) to OUT.json.progress the moment it
// arrives, so the test sees them while the call is still running.
// Every tool result with structuredContent is validated against the tool's outputSchema by the SDK itself
// (callTool throws on a mismatch); the script also checks that the SDK rejects a result that breaks a schema, so
// validation cannot silently be skipped.
import { appendFileSync, writeFileSync } from "node:fs";

const [sdk, steps, mode, target, out] = process.argv.slice(2);
const INFO = { name: "ts-sdk-test-client", version: "1.0.0" };
const PROTOCOL_2026 = "2026-07-28";

/** The two SDKs behind one face: connect, callTool with progress, and the proof that results are validated. */
async function connect() {
  if (sdk === "sdk1") {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const client = new Client(INFO);
    const connection = transport(StdioClientTransport, StreamableHTTPClientTransport);
    let negotiated;
    const setVersion = connection.setProtocolVersion?.bind(connection);
    connection.setProtocolVersion = (version) => {
      negotiated = version; // the version the initialize handshake agreed on
      setVersion?.(version);
    };
    await client.connect(connection);
    return {
      client,
      protocol: () => negotiated,
      call: (params, options) => client.callTool(params, undefined, options),
      async rejectsMalformed() {
        const verdict = client.getToolOutputValidator("generate_image")?.({ images: "not a list", model: 1 });
        return verdict !== undefined && verdict.valid === false;
      },
    };
  }
  const { Client, StreamableHTTPClientTransport } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
  const client = new Client(INFO, { versionNegotiation: { mode: { pin: PROTOCOL_2026 } } });
  await client.connect(transport(StdioClientTransport, StreamableHTTPClientTransport));
  return {
    client,
    protocol: () => client.getNegotiatedProtocolVersion(),
    call: (params, options) => client.callTool(params, options),
    async rejectsMalformed() {
      // The same listing checked against a schema it cannot meet: the SDK must refuse the result.
      const { tools } = await client.listTools();
      const listing = tools.find((tool) => tool.name === "list_images");
      const impossible = { ...listing, outputSchema: { type: "object", required: ["no_such_key"] } };
      try {
        await client.callTool({ name: "list_images", arguments: { limit: 1 } }, { toolDefinition: impossible });
        return false;
      } catch {
        return true;
      }
    },
  };
}

function transport(StdioClientTransport, StreamableHTTPClientTransport) {
  if (mode === "stdio") {
    const { command, args, env } = JSON.parse(target);
    return new StdioClientTransport({ command, args, env: { ...process.env, ...env }, stderr: "ignore" });
  }
  return new StreamableHTTPClientTransport(new URL(target));
}

function say(line) {
  appendFileSync(`${out}.progress`, `${line}\n`);
}

async function session({ client, call, rejectsMalformed }) {
  const seen = {};
  const { tools } = await client.listTools();
  seen.tools = tools.map((tool) => tool.name);
  seen.outputSchemas = tools.filter((tool) => tool.outputSchema).map((tool) => tool.name);
  seen.malformedRejected = await rejectsMalformed();

  const progress = [];
  const generated = await call(
    { name: "generate_image", arguments: { prompt: "a paper crane", size: "1536x1024" } },
    {
      onprogress: (event) => {
        progress.push(event.message ?? "");
        say(event.message ?? "");
      },
      resetTimeoutOnProgress: true,
      timeout: 60_000,
    },
  );
  seen.progress = progress;
  seen.generated = generated.structuredContent;
  const [image] = generated.structuredContent.images;

  const edited = await call({ name: "edit_image", arguments: { images: [image.id], prompt: "add a second crane" } });
  seen.edited = edited.structuredContent;
  const listed = await call({ name: "list_images", arguments: { limit: 1 } });
  seen.listed = listed.structuredContent;
  const analyzed = await call({ name: "analyze_image", arguments: { images: [image.id] } });
  seen.analyzed = analyzed.structuredContent;
  const usage = await call({ name: "usage_report", arguments: {} });
  seen.usage = usage.structuredContent;

  const resource = await client.readResource({ uri: image.uri });
  const [contents] = resource.contents;
  seen.resource = { uri: contents.uri, mimeType: contents.mimeType, blobLength: contents.blob.length };
  const { resourceTemplates } = await client.listResourceTemplates();
  seen.templates = resourceTemplates.map((template) => template.uriTemplate);

  const { prompts } = await client.listPrompts();
  seen.prompts = prompts.map((prompt) => prompt.name);
  const prompt = await client.getPrompt({
    name: "edit_then_verify",
    arguments: { image: image.id, change: "make the paper red" },
  });
  seen.promptText = prompt.messages[0].content.text;
  const completion = await client.complete({
    ref: { type: "ref/resource", uri: "images://{id}" },
    argument: { name: "id", value: image.id.slice(0, 4) },
  });
  seen.completedIds = completion.completion.values;
  return seen;
}

async function job({ call }) {
  // The server answers with a job id once its response deadline passes; get_job returns the images later.
  const first = await call({ name: "generate_image", arguments: { prompt: "a slow sunrise" } });
  const handedOff = first.structuredContent;
  say(`job ${handedOff.job_id}`);
  let current = first;
  for (let round = 0; round < 600 && current.structuredContent.status === "running"; round += 1) {
    current = await call({ name: "get_job", arguments: { job_id: handedOff.job_id, wait_seconds: 30 } });
  }
  return { handedOff, finished: current.structuredContent };
}

async function run() {
  const connected = await connect();
  const seen = { sdk, mode, ...(steps === "job" ? await job(connected) : await session(connected)) };
  seen.protocol = connected.protocol();
  await connected.client.close();
  return seen;
}

try {
  writeFileSync(out, JSON.stringify({ ok: true, ...(await run()) }, null, 2));
} catch (error) {
  writeFileSync(out, JSON.stringify({ ok: false, error: String(error?.stack ?? error) }, null, 2));
  process.exitCode = 1;
}
