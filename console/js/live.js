// Live bell counts: the WebSocket API (subscribe to the workspace stages; "bell" pushes
// after each reply) when config.json names one, else (or when the socket fails)
// polling /v1/notifications/unread-counts.

export const STAGES = [
  "initial_message",
  "retarget",
  "nudger",
  "content_nurture",
  "book_appointment",
];

const PING_MS = 5 * 60 * 1000; // well inside API Gateway's 10-minute idle timeout
const RETRY_SOCKET_MS = 30 * 1000;

export class Live {
  /**
   * onCounts(counts, how): the bell's numbers; onReply(event|null): something new arrived
   * (the reply.received envelope when pushed, null when a poll saw the counts change);
   * onTick(): each poll, for views that refresh while polling.
   */
  constructor({ api, websocketUrl, pollSeconds, onCounts, onReply, onTick, onMode }) {
    Object.assign(this, { api, websocketUrl, onCounts, onReply, onTick, onMode });
    this.pollMs = Math.max(0.5, pollSeconds || 3) * 1000;
    this.socket = null;
    this.timers = [];
    this.last = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    if (this.websocketUrl) this.connect();
    else this.poll();
  }

  stop() {
    this.stopped = true;
    this.stopPolling();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.socket) this.socket.close();
    this.socket = null;
  }

  connect() {
    const url = new URL(this.websocketUrl);
    url.searchParams.set("api_key", this.api.key);
    let opened = false;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.setMode("websocket");
      this.stopPolling();
      socket.send(JSON.stringify({ action: "subscribe", stages: STAGES }));
      this.timers.push(setInterval(() => socket.send(JSON.stringify({ action: "ping" })), PING_MS));
    });
    socket.addEventListener("message", (message) => this.received(message.data));
    socket.addEventListener("close", () => {
      if (this.stopped || this.socket !== socket) return;
      this.socket = null;
      // refused (bad key, no server) or dropped: poll, and try the socket again later
      this.poll();
      this.timers.push(setTimeout(() => !this.stopped && this.connect(), RETRY_SOCKET_MS));
      if (!opened) console.warn("WebSocket refused; polling the bell");
    });
  }

  received(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "subscribed" || message.type === "bell") {
      this.counts(message.counts, "websocket");
    }
    if (message.type === "bell") this.onReply(message.event || null);
    if (message.type === "event") this.onReply(null);
  }

  counts(counts, how) {
    const changed = this.last !== null && JSON.stringify(counts) !== JSON.stringify(this.last);
    this.last = counts;
    this.onCounts(counts, how);
    return changed;
  }

  poll() {
    if (this.polling) return;
    this.setMode("polling");
    const tick = async () => {
      if (!this.polling || this.stopped) return;
      try {
        const answer = await this.api.get("/v1/notifications/unread-counts");
        if (this.counts(answer.counts, "polling")) this.onReply(null);
        this.onTick();
      } catch (error) {
        console.warn("bell poll failed", error);
      }
      if (this.polling) this.polling = setTimeout(tick, this.pollMs);
    };
    this.polling = setTimeout(tick, 0);
  }

  stopPolling() {
    if (this.polling) clearTimeout(this.polling);
    this.polling = null;
  }

  setMode(mode) {
    this.mode = mode;
    this.onMode(mode);
  }
}
