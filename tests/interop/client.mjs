#!/usr/bin/env node
// Interop client for secure-mcp's tests: the official TypeScript MCP SDK, not code written here.
//
//   --sdk v1 (default): @modelcontextprotocol/sdk 1.x, the 2025-11-25 initialize handshake
//   --sdk v2          : @modelcontextprotocol/client 2.x pinned to the 2026-07-28 era (--era modern)
//                       or negotiating (--era auto / legacy)
//
//   node client.mjs --transport stdio [opts] -- <server command...>
//   node client.mjs --transport sse  --url http://127.0.0.1:PORT/sse [opts]
//   node client.mjs --transport http --url http://127.0.0.1:PORT/mcp [opts]
//
// opts: --tool NAME --args JSON      call one tool after tools/list
//       --elicit accept|decline|none  answer every elicitation so (none: declare no capability)
//       --bearer TOKEN                 Authorization: Bearer TOKEN (sse/http)
//       --header "Name: value"         extra HTTP header (repeatable)
//       --timeout MS                   per-request timeout (default 30000)
//
// Prints ONE JSON line: {ok, sdk, protocolVersion, tools, result:{isError, text, structuredContent},
// elicitations:[{message, answer}], error:{kind, message, httpStatus?}, timing:{connect_ms, list_ms, call_ms}}.
// Exit: 0 ok, 2 the tool returned isError, 3 protocol error, 4 transport/HTTP error, 64 usage.

import { performance } from 'node:perf_hooks';

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\n`);
  process.exit(64);
}

const argv = process.argv.slice(2);
const opt = { sdk: 'v1', era: 'legacy', elicit: 'accept', headers: {}, timeout: 30000, command: [] };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => (i + 1 < argv.length ? argv[++i] : usage(`missing value for ${a}`));
  switch (a) {
    case '--':
      opt.command = argv.slice(i + 1);
      i = argv.length;
      break;
    case '--sdk': opt.sdk = next(); break;
    case '--era': opt.era = next(); break;
    case '--transport': opt.transport = next(); break;
    case '--url': opt.url = next(); break;
    case '--tool': opt.tool = next(); break;
    case '--args': opt.args = next(); break;
    case '--elicit': opt.elicit = next(); break;
    case '--bearer': opt.bearer = next(); break;
    case '--timeout': opt.timeout = Number(next()); break;
    case '--header': {
      const h = next();
      const idx = h.indexOf(':');
      if (idx <= 0) usage(`bad --header ${h}`);
      opt.headers[h.slice(0, idx).trim()] = h.slice(idx + 1).trim();
      break;
    }
    default:
      usage(`unknown argument ${a}`);
  }
}
if (!['stdio', 'sse', 'http'].includes(opt.transport)) usage('--transport must be stdio, sse or http');
if (opt.transport === 'stdio' && opt.command.length === 0) usage('stdio needs a server command after --');
if (opt.transport !== 'stdio' && !opt.url) usage('--url is required for sse and http');
if (!['accept', 'decline', 'none'].includes(opt.elicit)) usage(`bad --elicit ${opt.elicit}`);
if (!['v1', 'v2'].includes(opt.sdk)) usage(`bad --sdk ${opt.sdk}`);
if (!['legacy', 'auto', 'modern'].includes(opt.era)) usage(`bad --era ${opt.era}`);
let toolArgs = {};
if (opt.args !== undefined) {
  try {
    toolArgs = JSON.parse(opt.args);
  } catch (e) {
    usage(`--args is not JSON: ${e.message}`);
  }
}

// ------------------------------------------------------------------ the SDK, by line
let Client, StdioClientTransport, SSEClientTransport, StreamableHTTPClientTransport, isProtocolError, onElicit;
if (opt.sdk === 'v1') {
  ({ Client } = await import('@modelcontextprotocol/sdk/client/index.js'));
  ({ StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js'));
  ({ SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js'));
  ({ StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js'));
  const { ElicitRequestSchema, McpError } = await import('@modelcontextprotocol/sdk/types.js');
  isProtocolError = (e) => e instanceof McpError;
  onElicit = (client, fn) => client.setRequestHandler(ElicitRequestSchema, fn);
} else {
  const m = await import('@modelcontextprotocol/client');
  ({ Client, SSEClientTransport, StreamableHTTPClientTransport } = m);
  ({ StdioClientTransport } = await import('@modelcontextprotocol/client/stdio'));
  isProtocolError = (e) => m.ProtocolError.isInstance?.(e) ?? e instanceof m.ProtocolError;
  onElicit = (client, fn) => client.setRequestHandler('elicitation/create', fn);
}

const out = {
  ok: false,
  sdk: opt.sdk,
  era: opt.era,
  transport: opt.transport,
  protocolVersion: null,
  tools: null,
  result: null,
  elicitations: [],
  error: null,
  timing: {},
};

function errInfo(e) {
  if (isProtocolError(e)) return { kind: 'mcp', code: e.code, message: String(e.message) };
  const info = { kind: 'transport', name: e?.name ?? 'Error', message: String(e?.message ?? e) };
  const code = e?.code ?? e?.status;
  if (typeof code === 'number' && code >= 100 && code < 600) info.httpStatus = code;
  const m = /\b(40[0-9]|42[0-9]|50[0-9])\b/.exec(info.message);
  if (info.httpStatus === undefined && m) info.httpStatus = Number(m[1]);
  return info;
}

// Accept fills the requested form with each field's default, true for booleans, the first enum value.
function formAnswer(schema) {
  const content = {};
  for (const [k, p] of Object.entries(schema?.properties ?? {})) {
    if (p.default !== undefined) content[k] = p.default;
    else if (p.type === 'boolean') content[k] = true;
    else if (Array.isArray(p.enum) && p.enum.length) content[k] = p.enum[0];
    else if (p.type === 'number' || p.type === 'integer') content[k] = p.minimum ?? 0;
    else content[k] = 'yes';
  }
  return content;
}

const capabilities = opt.elicit === 'none' ? {} : { elicitation: { form: {} } };
const clientOptions = { capabilities };
if (opt.sdk === 'v2') clientOptions.versionNegotiation = { mode: opt.era === 'modern' ? { pin: '2026-07-28' } : opt.era };
const client = new Client({ name: 'secure-mcp-interop', version: '0.1.0' }, clientOptions);
if (opt.elicit !== 'none') {
  onElicit(client, async (request) => {
    const p = request.params ?? {};
    const answer = opt.elicit === 'accept' ? { action: 'accept', content: formAnswer(p.requestedSchema) } : { action: opt.elicit };
    out.elicitations.push({ message: p.message ?? null, answer });
    return answer;
  });
}

const headers = { ...opt.headers };
if (opt.bearer) headers.Authorization = `Bearer ${opt.bearer}`;
let transport;
if (opt.transport === 'stdio') {
  const [command, ...args] = opt.command;
  const env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined));
  transport = new StdioClientTransport({ command, args, env, stderr: 'ignore' });
} else if (opt.transport === 'sse') {
  // The SSE GET goes through eventSourceInit.fetch in SDK 1.x; send the token there too.
  const withHeaders = (url, init) => fetch(url, { ...init, headers: { ...(init?.headers ?? {}), ...headers } });
  transport = new SSEClientTransport(new URL(opt.url), { requestInit: { headers }, eventSourceInit: { fetch: withHeaders } });
} else {
  transport = new StreamableHTTPClientTransport(new URL(opt.url), { requestInit: { headers } });
}
{
  const orig = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (v) => {
    out.protocolVersion = v;
    if (orig) orig(v);
  };
}

const r3 = (x) => Math.round(x * 1000) / 1000;
let exitCode = 4;
const reqOpts = { timeout: opt.timeout };
try {
  let t0 = performance.now();
  await client.connect(transport, reqOpts);
  out.timing.connect_ms = r3(performance.now() - t0);
  if (typeof client.getNegotiatedProtocolVersion === 'function') {
    out.protocolVersion = client.getNegotiatedProtocolVersion() ?? out.protocolVersion;
  }
  t0 = performance.now();
  const listed = await client.listTools(undefined, reqOpts);
  out.timing.list_ms = r3(performance.now() - t0);
  out.tools = listed.tools.map((t) => t.name);
  exitCode = 0;
  if (opt.tool) {
    const params = { name: opt.tool, arguments: toolArgs };
    t0 = performance.now();
    const result = opt.sdk === 'v1' ? await client.callTool(params, undefined, reqOpts) : await client.callTool(params, reqOpts);
    out.timing.call_ms = r3(performance.now() - t0);
    const first = (result.content ?? []).find((c) => c.type === 'text');
    out.result = { isError: result.isError ?? false, text: first?.text ?? null, structuredContent: result.structuredContent ?? null };
    if (out.result.isError) exitCode = 2;
  }
  out.ok = exitCode === 0;
} catch (e) {
  out.error = errInfo(e);
  exitCode = isProtocolError(e) ? 3 : 4;
} finally {
  try {
    if (opt.transport === 'http' && transport.sessionId) await transport.terminateSession();
  } catch {
    /* the session may already be gone */
  }
  try {
    await client.close();
  } catch {
    /* closing is best effort */
  }
}
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(exitCode));
