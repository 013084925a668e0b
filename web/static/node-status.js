// Ticker's node status page (/desk/status): refreshes the nodes' table from /desk/status/nodes every few seconds.
// The server renders the same table; this only keeps it current. Rows are keyed by node id: a new node gets a
// row, a node that stopped reporting loses its own.
import { fill } from "./fill.js";

const table = document.querySelector("table.nodes");
const note = document.querySelector(".status-note");
const T = JSON.parse(document.getElementById("status-text").textContent);
const lang = document.documentElement.lang || "sv";
const every = Math.max(1, Number(table.dataset.refreshSeconds) || 2) * 1000;
const number = (value, digits = 0) =>
  Number(value).toLocaleString(lang, { maximumFractionDigits: digits, minimumFractionDigits: 0 });

function cell(row, tag, className) {
  let found = row.querySelector(`.${className.split(" ").join(".")}`);
  if (!found) {
    found = document.createElement(tag);
    found.className = className;
    if (tag === "th") found.scope = "row";
    row.append(found);
  }
  return found;
}

function render(row, node) {
  row.className = "node" + (node.this ? " this" : "") +
    (!node.broker_listening || !node.relay_healthy ? " trouble" : "");
  row.dataset.node = node.id;
  const name = cell(row, "th", "name");
  name.textContent = node.name;
  if (node.this) {
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = `(${T.this_node})`;
    name.append(" ", mark);
  }
  cell(row, "td", "address").textContent = node.address;
  const readers = cell(row, "td", "figure readers");
  readers.textContent = number(node.readers);
  readers.title = fill(T.readers_by_way, {
    websocket: number(node.readers_by_way.websocket), sse: number(node.readers_by_way.sse),
  });
  cell(row, "td", "figure incidents").textContent = number(node.incidents);
  cell(row, "td", "figure deliveries").textContent = number(node.deliveries_per_second, 1);
  cell(row, "td", "figure relay-lag").textContent = node.relay_lag_seconds === null
    ? T.unknown : fill(T.seconds, { value: number(node.relay_lag_seconds, 1) });
  cell(row, "td", "broker").textContent = (node.broker_listening ? T.listening : T.not_listening) +
    (node.relay_healthy ? "" : `, ${T.relay_stuck}`);
  const seen = cell(row, "td", "seen");
  const time = document.createElement("time");
  time.dateTime = node.at;
  time.textContent = new Date(node.at).toLocaleTimeString(lang);
  seen.replaceChildren(time);
}

function show(nodes) {
  const body = table.tBodies[0];
  const rows = new Map([...body.querySelectorAll("tr.node")].map((row) => [row.dataset.node, row]));
  body.querySelector("tr.none")?.remove();
  nodes.forEach((node, index) => {
    let row = rows.get(node.id);
    rows.delete(node.id);
    if (!row) {
      row = document.createElement("tr");
      // Cells in the table's column order, then filled in.
      for (const [tag, name] of [["th", "name"], ["td", "address"], ["td", "figure readers"],
        ["td", "figure incidents"], ["td", "figure deliveries"], ["td", "figure relay-lag"], ["td", "broker"],
        ["td", "seen"]]) cell(row, tag, name);
    }
    render(row, node);
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
  for (const gone of rows.values()) gone.remove();
  if (!nodes.length) {
    const row = body.insertRow();
    row.className = "none";
    const only = row.insertCell();
    only.colSpan = 8;
    only.textContent = T.no_nodes;
  }
}

async function refresh() {
  try {
    const response = await fetch("/desk/status/nodes", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      note.textContent = T.logged_out;
      return; // nothing more to fetch until the person logs in again
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const answer = await response.json();
    show(answer.nodes);
    table.dataset.updated = String(Date.now());
    note.textContent = fill(T.updated, { time: new Date().toLocaleTimeString(lang) });
  } catch (error) {
    note.textContent = T.failed;
  }
  setTimeout(refresh, every);
}

setTimeout(refresh, every);
