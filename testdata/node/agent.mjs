// agent.mjs — Socket.IO client agent for eventrouter end-to-end tests.
//
// Drives the OFFICIAL socket.io-client v4. Controlled by one JSON object per
// line on stdin; reports one JSON object per line on stdout. Driven from Go by
// internal/nodeclient. Binary values anywhere inside args travel as
// {"$bin":"<base64>"} in both directions.
//
// Commands (stdin):
//   {"op":"connect","id":"a","url":"http://127.0.0.1:PORT/ns","opts":{...}}
//     with "close_on_connect":true, calls socket.disconnect() in its connect handler
//     with "emit_on_connect":{"event","args","seq"}, emits with an ack in its connect handler
//   {"op":"emit","id":"a","event":"x","args":[...],"ack":true,"timeout_ms":5000,"seq":7}
//   {"op":"ack","id":"a","ack_id":3,"args":[...]}   answer a server emit that asked for an ack
//   {"op":"disconnect","id":"a"}
//   {"op":"cut","id":"a","url":"http://..."}       close the transport under the socket, as a network
//     failure does ("transport close"); with opts.reconnection the client reconnects, to url if given
//   {"op":"ping","seq":1}                             replies {"type":"pong","seq":1}
//   {"op":"exit"}
//
// Reports (stdout):
//   {"type":"ready"}
//   {"type":"connect","id","sid","transport","recovered"}
//   {"type":"connect_error","id","message","data"}
//   {"type":"disconnect","id","reason"}
//   {"type":"event","id","event","args":[...],"raw_args":"[...]"}  ("ack_id" present if the server wants an ack)
//   {"type":"upgrade","id","transport"}
//   {"type":"ack","id","seq","args":[...],"raw_args":"[...]"} / {"type":"ack_timeout","id","seq","message"}
//
// raw_args is JSON.stringify of the arguments as socket.io-client parsed
// them, so it shows the key order the server sent (a Buffer shows as
// {"type":"Buffer",...}).
//   {"type":"pong","seq"}
//   {"type":"error","id","seq","message"}
//
// The agent never exits because of a bad command; it reports an error line.

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const DEFAULT_ACK_TIMEOUT_MS = 5000;

/** @type {Map<string, import("socket.io-client").Socket>} */
const sockets = new Map();
/** server-requested acks waiting for an {"op":"ack"}: ack_id -> callback */
const serverAcks = new Map();
let nextAckId = 1;

function report(obj) {
  let line;
  try {
    line = JSON.stringify(obj);
  } catch (err) {
    line = JSON.stringify({ type: "error", id: obj && obj.id, message: `cannot serialise report: ${err}` });
  }
  process.stdout.write(line + "\n");
}

function reportError(id, message, seq) {
  const r = { type: "error", message: String(message) };
  if (id !== undefined && id !== null) r.id = String(id);
  if (seq !== undefined && seq !== null) r.seq = seq;
  report(r);
}

// encode converts a value received from socket.io into JSON-safe form:
// binary -> {"$bin": base64}; functions dropped; cycles cut.
function encode(v, seen = new WeakSet()) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (typeof v === "function" || typeof v === "symbol") return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v !== "object") return v;
  if (seen.has(v)) return null;
  seen.add(v);
  let out;
  if (Array.isArray(v)) {
    out = v.map((x) => encode(x, seen));
  } else if (v instanceof Error) {
    out = { name: v.name, message: v.message };
  } else {
    out = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "function") continue;
      out[k] = encode(x, seen);
    }
  }
  seen.delete(v);
  return out;
}

// rawArgs is JSON.stringify(args), or undefined when it cannot be.
function rawArgs(args) {
  try {
    return JSON.stringify(args);
  } catch {
    return undefined;
  }
}

// decode converts the JSON form back: {"$bin": base64} -> Buffer.
function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin" && typeof v.$bin === "string") {
      return Buffer.from(v.$bin, "base64");
    }
    const out = {};
    for (const k of keys) out[k] = decode(v[k]);
    return out;
  }
  return v;
}

function transportName(socket) {
  const engine = socket.io && socket.io.engine;
  return engine && engine.transport ? engine.transport.name : undefined;
}

function forget(id, socket) {
  socket.offAny();
  socket.removeAllListeners();
  if (socket.io) socket.io.removeAllListeners();
  if (sockets.get(id) === socket) sockets.delete(id);
}

function doConnect(cmd) {
  const id = cmd.id;
  if (typeof id !== "string" || id === "") throw new Error("connect: missing string id");
  if (typeof cmd.url !== "string" || cmd.url === "") throw new Error("connect: missing url");
  const opts = cmd.opts && typeof cmd.opts === "object" ? decode(cmd.opts) : {};

  const old = sockets.get(id);
  if (old) {
    // Re-using an id replaces the previous socket silently.
    forget(id, old);
    old.disconnect();
  }

  const socket = io(cmd.url, { forceNew: true, reconnection: false, ...opts });
  sockets.set(id, socket);

  const hookEngine = () => {
    const engine = socket.io.engine;
    if (!engine || engine.__agentHooked) return;
    engine.__agentHooked = true;
    engine.on("upgrade", (transport) => {
      report({ type: "upgrade", id, transport: transport && transport.name });
    });
  };
  hookEngine(); // engine exists right away when autoConnect (the default)
  socket.io.on("open", hookEngine); // and for any later engine

  socket.on("connect", () => {
    report({ type: "connect", id, sid: socket.id, transport: transportName(socket), recovered: socket.recovered === true });
    if (cmd.emit_on_connect) {
      // Emit inside the connect handler, as most applications do: the
      // packet follows the CONNECT as closely as a client can send it.
      doEmit({ ...cmd.emit_on_connect, id, ack: true });
    }
    if (cmd.close_on_connect) {
      // Leave inside the connect handler, before any other I/O: the fastest
      // a real client can come and go.
      sockets.delete(id);
      socket.disconnect();
    }
  });
  socket.on("connect_error", (err) => {
    const r = { type: "connect_error", id, message: err && err.message !== undefined ? String(err.message) : String(err) };
    if (err && err.data !== undefined) r.data = encode(err.data);
    report(r);
  });
  socket.on("disconnect", (reason, details) => {
    const r = { type: "disconnect", id, reason: String(reason) };
    if (details !== undefined) {
      const d = encode(details);
      if (d && typeof d === "object" && Object.keys(d).length > 0) r.data = d;
    }
    report(r);
  });
  socket.onAny((event, ...args) => {
    const r = { type: "event", id, event: String(event) };
    if (args.length > 0 && typeof args[args.length - 1] === "function") {
      const cb = args.pop();
      const ackId = nextAckId++;
      serverAcks.set(ackId, cb);
      r.ack_id = ackId;
    }
    r.args = encode(args);
    r.raw_args = rawArgs(args);
    report(r);
  });
}

function getSocket(cmd) {
  if (typeof cmd.id !== "string") throw new Error(`${cmd.op}: missing string id`);
  const socket = sockets.get(cmd.id);
  if (!socket) throw new Error(`${cmd.op}: unknown socket id ${JSON.stringify(cmd.id)}`);
  return socket;
}

function doEmit(cmd) {
  const socket = getSocket(cmd);
  if (typeof cmd.event !== "string") throw new Error("emit: missing string event");
  const args = Array.isArray(cmd.args) ? decode(cmd.args) : cmd.args === undefined ? [] : [decode(cmd.args)];
  if (!cmd.ack) {
    socket.emit(cmd.event, ...args);
    return;
  }
  const id = cmd.id;
  const seq = cmd.seq;
  const timeout = Number.isFinite(cmd.timeout_ms) && cmd.timeout_ms > 0 ? cmd.timeout_ms : DEFAULT_ACK_TIMEOUT_MS;
  socket.timeout(timeout).emit(cmd.event, ...args, (err, ...resp) => {
    if (err) {
      report({ type: "ack_timeout", id, seq, message: String(err.message || err) });
    } else {
      report({ type: "ack", id, seq, args: encode(resp), raw_args: rawArgs(resp) });
    }
  });
}

function doAck(cmd) {
  const ackId = cmd.ack_id;
  const cb = serverAcks.get(ackId);
  if (!cb) throw new Error(`ack: unknown ack_id ${JSON.stringify(ackId)}`);
  serverAcks.delete(ackId);
  const args = Array.isArray(cmd.args) ? decode(cmd.args) : [];
  cb(...args);
}

function doCut(cmd) {
  const socket = sockets.get(String(cmd.id));
  if (!socket) throw new Error(`unknown socket ${cmd.id}`);
  if (cmd.url) socket.io.uri = String(cmd.url); // the next engine the manager opens goes there
  socket.io.engine.transport.close(); // the engine sees "transport close", as on a network failure
}

function doDisconnect(cmd) {
  const socket = getSocket(cmd);
  sockets.delete(cmd.id);
  socket.disconnect(); // reports {"type":"disconnect","reason":"io client disconnect"} if connected
}

function doExit() {
  for (const [id, socket] of sockets) {
    forget(id, socket);
    try {
      socket.disconnect();
    } catch {
      /* ignore */
    }
  }
  process.exit(0);
}

function handleLine(line) {
  line = line.trim();
  if (line === "") return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    reportError(undefined, `bad JSON command: ${err.message}`);
    return;
  }
  if (cmd === null || typeof cmd !== "object" || Array.isArray(cmd)) {
    reportError(undefined, "command must be a JSON object");
    return;
  }
  try {
    switch (cmd.op) {
      case "connect":
        doConnect(cmd);
        break;
      case "emit":
        doEmit(cmd);
        break;
      case "ack":
        doAck(cmd);
        break;
      case "disconnect":
        doDisconnect(cmd);
        break;
      case "cut":
        doCut(cmd);
        break;
      case "ping":
        report({ type: "pong", seq: cmd.seq });
        break;
      case "exit":
        doExit();
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    }
  } catch (err) {
    reportError(cmd.id, err && err.message ? err.message : String(err), cmd.seq);
  }
}

process.on("uncaughtException", (err) => {
  reportError(undefined, `uncaught exception: ${err && err.stack ? err.stack : err}`);
});
process.on("unhandledRejection", (err) => {
  reportError(undefined, `unhandled rejection: ${err && err.stack ? err.stack : err}`);
});
process.stdout.on("error", () => process.exit(0)); // reader went away

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", handleLine);
rl.on("close", doExit);

report({ type: "ready" });
