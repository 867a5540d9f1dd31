// The official TypeScript SDK client against mcp-server-images: the steps a client UI takes in its first minute.
//
// Usage: node ts_client.mjs stdio '{"command": ..., "args": [...], "env": {...}}' OUT.json
//        node ts_client.mjs http http://127.0.0.1:PORT/mcp OUT.json
//
// It writes what it saw to OUT.json for the pytest test to assert on (stdout may carry other tools' noise), and
// appends each progress message to OUT.json.progress the moment it arrives, so the test sees progress while the
// call is still running.
// Every tool result with structuredContent is validated against the tool's outputSchema by the SDK itself
// (Client.callTool throws on a mismatch); the script also checks that a validator was compiled for each such
// tool and that it rejects a malformed object, so validation cannot silently be skipped.
import { appendFileSync, writeFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, out] = process.argv.slice(2);

function transport() {
  if (mode === "stdio") {
    const { command, args, env } = JSON.parse(target);
    return new StdioClientTransport({ command, args, env: { ...process.env, ...env }, stderr: "ignore" });
  }
  return new StreamableHTTPClientTransport(new URL(target));
}

async function run() {
  const client = new Client({ name: "ts-sdk-test-client", version: "1.0.0" });
  await client.connect(transport());
  const seen = { mode };

  const { tools } = await client.listTools();
  seen.tools = tools.map((tool) => tool.name);
  const withSchema = tools.filter((tool) => tool.outputSchema).map((tool) => tool.name);
  seen.validatorsCompiled = withSchema.filter((name) => client.getToolOutputValidator(name) !== undefined);
  seen.outputSchemas = withSchema;
  const malformed = client.getToolOutputValidator("generate_image")?.({ images: "not a list", model: 1 });
  seen.malformedRejected = malformed !== undefined && malformed.valid === false;

  const progress = [];
  const generated = await client.callTool(
    { name: "generate_image", arguments: { prompt: "a paper crane", size: "1536x1024" } },
    undefined,
    {
      onprogress: (event) => {
        progress.push(event.message ?? "");
        appendFileSync(`${out}.progress`, `${event.message ?? ""}\n`);
      },
      resetTimeoutOnProgress: true,
      timeout: 60_000,
    },
  );
  seen.progress = progress;
  seen.generated = generated.structuredContent;
  const [image] = generated.structuredContent.images;

  const edited = await client.callTool({
    name: "edit_image",
    arguments: { images: [image.id], prompt: "add a second crane" },
  });
  seen.edited = edited.structuredContent;
  const listed = await client.callTool({ name: "list_images", arguments: { limit: 1 } });
  seen.listed = listed.structuredContent;
  seen.callsValidated = ["generate_image", "edit_image", "list_images"];

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

  await client.close();
  return seen;
}

try {
  writeFileSync(out, JSON.stringify({ ok: true, ...(await run()) }, null, 2));
} catch (error) {
  writeFileSync(out, JSON.stringify({ ok: false, error: String(error?.stack ?? error) }, null, 2));
  process.exitCode = 1;
}
