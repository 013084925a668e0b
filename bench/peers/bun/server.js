// Bun peer: Bun's built-in websocket server (uWebSockets, in C++) with one Redis subscriber (Bun's own
// RedisClient). Each frame published to a Redis channel goes to the readers of that channel with
// server.publish, which uWebSockets sends to every subscribed socket (batching what one loop turn publishes).
// The same protocol as the Node ws peer (node/server.js), the subset of Ticker's the load generator needs:
//   reader -> {"type":"subscribe","incident":SLUG,...}   <- {"type":"subscribed","incident":SLUG,"seq":0}
//   POST /publish/SLUG with a ready event frame as body -> PUBLISH SLUG frame -> every reader of SLUG
// No history, so no resume: a reader that was away misses what was published meanwhile.
// Usage: bun server.js --host 127.0.0.1 --port 8001 --redis redis://127.0.0.1:6390
import { RedisClient } from 'bun';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '8001'));
const redisUrl = arg('redis', 'redis://127.0.0.1:6379');

const pub = new RedisClient(redisUrl);
const sub = new RedisClient(redisUrl); // in subscriber mode: it runs no other command
const rooms = new Map(); // slug -> { readers: number, ready: Promise (the Redis SUBSCRIBE) }

function relay(frame, channel) {
  server.publish(channel, frame);
}

async function join(ws, slug) {
  let room = rooms.get(slug);
  if (room === undefined) {
    room = { readers: 0, ready: sub.subscribe(slug, relay) };
    rooms.set(slug, room);
  }
  room.readers += 1;
  ws.data.rooms.push(slug);
  ws.subscribe(slug);
  await room.ready; // acknowledged only once Redis sends this channel here, as the Node peer does
}

function leave(ws) {
  for (const slug of ws.data.rooms) {
    const room = rooms.get(slug);
    if (room === undefined) continue;
    room.readers -= 1;
    if (room.readers === 0) {
      rooms.delete(slug);
      sub.unsubscribe(slug);
    }
  }
}

const server = Bun.serve({
  hostname: host,
  port,
  async fetch(req, server) {
    const { pathname } = new URL(req.url);
    if (pathname === '/live') {
      if (server.upgrade(req, { data: { rooms: [] } })) return undefined;
      return new Response('expected a websocket upgrade', { status: 400 });
    }
    const m = /^\/publish\/([\w.-]+)$/.exec(pathname);
    if (req.method !== 'POST' || m === null) return new Response(null, { status: 404 });
    const receivers = await pub.publish(m[1], await req.text());
    return Response.json({ receivers }, { status: 201 });
  },
  websocket: {
    perMessageDeflate: false,
    async message(ws, data) {
      let msg;
      try {
        msg = JSON.parse(data);
      } catch {
        return;
      }
      if (msg.type !== 'subscribe' || typeof msg.incident !== 'string') return;
      await join(ws, msg.incident);
      ws.send(JSON.stringify({ type: 'subscribed', incident: msg.incident, seq: 0 }));
    },
    close(ws) {
      leave(ws);
    },
  },
});

console.log(`bun websocket peer on ${host}:${port}`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
