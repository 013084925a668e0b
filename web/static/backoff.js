// The reconnect backoff of every client that follows a stream (live.js, the embed, the desk's "Händelser" panel):
// the formula of ticker/backoff.py's backoff_delay, in milliseconds, with the clients' base and cap. Doubling per
// failure in a row, capped, then jittered to 50–100 %, so that readers a restart let go do not come back at once.
// tests/test_backoff_js.py checks that both give the same delays.
export function backoffDelay(failures, base = 500, cap = 30000) {
  return Math.min(cap, base * 2 ** Math.min(failures, 32)) * (0.5 + Math.random() / 2);
}
