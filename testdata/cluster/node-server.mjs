// A Node socket.io 4.8 server that joins an eventrouter cluster through
// Redis: the Node side of a mixed cluster, for the cluster tests and for
// trying a migration by hand. It speaks to the other nodes with
// @socket.io/redis-streams-adapter over the node-redis client, the adapter
// eventrouter's cluster package is wire-compatible with, and mirrors the
// rules of testdata/cluster.yaml that eventrouter's default config shares:
//
//   send_message (data)      -> io.emit("receive_message", data)
//   join (room)              -> socket.join(room); an ack, if asked for, gets true
//   to_room ({room, data})   -> io.to(room).emit("receive_message", data)
//   POST /broadcast (JSON)   -> io.emit("receive_message", body); 200 {"ok":true}
//
// Environment:
//   PORT         port to listen on; 0 (default) picks a free one
//   HOST         address to listen on (default 127.0.0.1)
//   REDIS_URL    the cluster's Redis (default redis://127.0.0.1:6379)
//   PREFIX       the adapter's streamName and channelPrefix, eventrouter's
//                cluster.redis.prefix (default "socket.io")
//   RECOVERY_MS  connectionStateRecovery.maxDisconnectionDuration in ms;
//                0 (default) turns connection state recovery off
//   SESSION_KEY_PREFIX  the adapter's sessionKeyPrefix, where recovery
//                sessions are kept (default: the adapter's, "sio:session:",
//                which eventrouter's cluster package leaves as it is too)
//
// Once it listens and its adapter reads the stream, it prints one JSON line
// {"port":N} on stdout; everything else goes to stderr. SIGTERM or SIGINT
// closes it cleanly (exit 0).
//
// Run: REDIS_URL=redis://127.0.0.1:6390 node testdata/cluster/node-server.mjs

import http from "node:http";
import { createClient } from "redis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-streams-adapter";

const PORT = intEnv("PORT", 0);
const HOST = process.env.HOST || "127.0.0.1";
const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const PREFIX = process.env.PREFIX || "socket.io";
const RECOVERY_MS = intEnv("RECOVERY_MS", 0);
const SESSION_KEY_PREFIX = process.env.SESSION_KEY_PREFIX || undefined;
const MAX_BODY = 1 << 20; // eventrouter's server.max_body default

function intEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

function logErr(...args) {
  console.error("node-server:", ...args);
}

function fail(msg) {
  logErr(msg);
  process.exit(1);
}

// redacted is url without its password, for log lines.
function redacted(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "xxxxx";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

// The client name lets ready() find the adapter's own connections (the
// adapter duplicates this client for its stream reader and its subscriber,
// and duplicates keep the name).
const clientName = `node-server-${process.pid}`;
const redisClient = createClient({ url: REDIS_URL, name: clientName });
redisClient.on("error", (err) => logErr("redis:", err.message));
try {
  await redisClient.connect();
} catch (err) {
  fail(`cannot connect to ${redacted(REDIS_URL)}: ${err.message}`);
}

const httpServer = http.createServer(onRequest);

const io = new Server(httpServer, {
  cors: { origin: "*", methods: ["GET", "POST"] },
  // The options eventrouter's cluster package sets on its side; every
  // other adapter option keeps its default on both sides.
  adapter: createAdapter(redisClient, {
    streamName: PREFIX,
    channelPrefix: PREFIX,
    ...(SESSION_KEY_PREFIX ? { sessionKeyPrefix: SESSION_KEY_PREFIX } : {}),
  }),
  ...(RECOVERY_MS > 0
    ? { connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_MS, skipMiddlewares: true } }
    : {}),
});

io.engine.on("connection_error", (err) => logErr("engine:", err.code, err.message));

io.on("connection", (socket) => {
  socket.on("send_message", (data) => {
    io.emit("receive_message", data);
  });
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack(true);
  });
  socket.on("to_room", (msg) => {
    if (!msg || typeof msg !== "object" || msg.room === undefined) {
      logErr("to_room without a room:", JSON.stringify(msg));
      return;
    }
    io.to(String(msg.room)).emit("receive_message", msg.data);
  });
  socket.on("error", (err) => logErr("socket", socket.id + ":", err.message));
});

// onRequest serves the HTTP routes; socket.io answers its own path before
// this handler sees it.
function onRequest(req, res) {
  const path = new URL(req.url, "http://x").pathname;
  if (path !== "/broadcast") return answer(res, 404, { error: "not found" });
  if (req.method === "OPTIONS") {
    res.writeHead(204, {
      "Access-Control-Allow-Origin": "*",
      "Access-Control-Allow-Methods": "GET, POST",
      "Access-Control-Allow-Headers": "Content-Type",
    });
    return res.end();
  }
  if (req.method !== "POST") return answer(res, 405, { error: "method not allowed" });
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      answer(res, 413, { error: "body too large" });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.headersSent) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      return answer(res, 400, { error: "invalid JSON" });
    }
    io.emit("receive_message", body);
    answer(res, 200, { ok: true });
  });
  req.on("error", (err) => logErr("http:", err.message));
}

function answer(res, status, body) {
  if (res.headersSent) return;
  res.writeHead(status, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*" });
  res.end(JSON.stringify(body));
}

// ready waits, at most timeoutMs, until the adapter's stream reader is
// blocked in XREAD and its subscriber is subscribed: the adapter starts both
// in the background and reads the stream from "$", so a broadcast another
// node publishes before that would never reach this node's clients. It
// looks through CLIENT LIST; where ACLs forbid that, it gives up quietly.
async function ready(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let list;
    try {
      list = await redisClient.sendCommand(["CLIENT", "LIST"]);
    } catch (err) {
      logErr("CLIENT LIST failed, not waiting for the adapter:", err.message);
      return;
    }
    const mine = String(list)
      .split("\n")
      .filter((line) => line.includes(` name=${clientName} `));
    const reading = mine.some((line) => / cmd=xread\b/.test(line));
    const subscribed = mine.some((line) => / sub=[1-9]/.test(line) || / ssub=[1-9]/.test(line));
    if (reading && subscribed) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  logErr(`the adapter did not start reading within ${timeoutMs}ms; going on`);
}

httpServer.on("error", (err) => fail(`listen: ${err.message}`));
httpServer.listen(PORT, HOST, async () => {
  await ready(5000);
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

let closing = false;
async function shutdown(signal) {
  if (closing) return;
  closing = true;
  // The adapter's stream reader only notices the close when its blocking
  // XREAD returns (up to 5s); do not wait for it.
  setTimeout(() => {
    logErr(`${signal}: close took too long, exiting`);
    process.exit(0);
  }, 3000).unref();
  try {
    await io.close(); // disconnects the sockets, closes the adapters and the HTTP server
  } catch (err) {
    logErr("close:", err.message);
  }
  try {
    await redisClient.close();
  } catch (err) {
    logErr("redis close:", err.message);
  }
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("unhandledRejection", (err) => logErr("unhandled rejection:", err?.stack || err));
