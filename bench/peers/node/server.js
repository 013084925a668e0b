// Node ws peer: one Redis subscriber fans each published frame out to the local readers of its channel.
// Speaks the subset of Ticker's protocol the load generator needs ("plain" dialect):
//   reader -> {"type":"subscribe","incident":SLUG,...}   <- {"type":"subscribed","incident":SLUG,"seq":0}
//   POST /publish/SLUG with a ready event frame as body -> PUBLISH SLUG frame -> every reader of SLUG
// No history, so no resume: a reader that was away misses what was published meanwhile.
// Usage: node server.js --host 127.0.0.1 --port 8001 --redis redis://127.0.0.1:6390
'use strict';

const http = require('http');
const { WebSocketServer } = require('ws');
const Redis = require('ioredis');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '8001'));
const redisUrl = arg('redis', 'redis://127.0.0.1:6379');

const pub = new Redis(redisUrl);
const sub = new Redis(redisUrl);
const rooms = new Map(); // slug -> Set<WebSocket>

sub.on('message', (channel, frame) => {
  const room = rooms.get(channel);
  if (room === undefined) return;
  for (const ws of room) ws.send(frame);
});

async function join(ws, slug) {
  let room = rooms.get(slug);
  if (room === undefined) {
    room = new Set();
    rooms.set(slug, room);
    await sub.subscribe(slug);
  }
  room.add(ws);
  ws.rooms.push(slug);
}

function leave(ws) {
  for (const slug of ws.rooms) {
    const room = rooms.get(slug);
    if (room === undefined) continue;
    room.delete(ws);
    if (room.size === 0) {
      rooms.delete(slug);
      sub.unsubscribe(slug);
    }
  }
}

const server = http.createServer((req, res) => {
  const m = /^\/publish\/([\w.-]+)$/.exec(req.url);
  if (req.method !== 'POST' || m === null) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const receivers = await pub.publish(m[1], Buffer.concat(chunks).toString());
    const body = JSON.stringify({ receivers });
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

const wss = new WebSocketServer({ server, path: '/live', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.rooms = [];
  ws.on('message', async (data) => {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type !== 'subscribe' || typeof msg.incident !== 'string') return;
    await join(ws, msg.incident);
    ws.send(JSON.stringify({ type: 'subscribed', incident: msg.incident, seq: 0 }));
  });
  ws.on('close', () => leave(ws));
  ws.on('error', () => {});
});

server.listen(port, host, 4096, () => console.log(`node ws peer on ${host}:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
