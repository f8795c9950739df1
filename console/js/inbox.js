// The inbox: workspace stages with their bells, threads by stage, label and unread, and
// one thread at a time with its lead, insight, timers and a composer that sends from
// the lead's bound number (the API picks it; the console has no say).

import { fill, h, humanize, when } from "./dom.js";
import { STAGES } from "./live.js";
import { countSegments } from "./segments.js";

const STOPPED_STATES = new Set(["suppressed", "closed"]);

export class Inbox {
  constructor(api, say) {
    this.api = api;
    this.say = say;
    this.stage = null;
    this.counts = Object.fromEntries(STAGES.map((s) => [s, 0]));
    this.openId = null;
    this.followUps = 0;
    this.followTimer = null;
    this.stagesEl = document.getElementById("stages");
    this.threadsEl = document.getElementById("threads");
    this.threadEl = document.getElementById("thread");
    this.filters = document.getElementById("filters");
    this.filters.addEventListener("submit", (e) => {
      e.preventDefault();
      this.loadThreads();
    });
    document.getElementById("filter-unread").addEventListener("change", () => this.loadThreads());
    this.renderStages();
  }

  show() {
    this.loadThreads();
  }

  setCounts(counts) {
    this.counts = { ...this.counts, ...counts };
    this.renderStages();
    const total = Object.values(this.counts).reduce((a, b) => a + b, 0);
    const bell = document.getElementById("bell");
    bell.textContent = String(total);
    bell.dataset.count = String(total);
    bell.setAttribute("aria-label", `Unread replies: ${total}`);
  }

  renderStages() {
    const button = (stage, label, count) =>
      h(
        "button",
        {
          type: "button",
          "aria-pressed": String(this.stage === stage),
          dataset: { stage: stage ?? "all" },
          onclick: () => {
            this.stage = stage;
            this.renderStages();
            this.loadThreads();
          },
        },
        label,
        count === null
          ? null
          : h("span", { class: "badge", dataset: { count: String(count) }, "aria-label": `${count} unread` }, count),
      );
    fill(
      this.stagesEl,
      button(null, "All", null),
      STAGES.map((s) => button(s, humanize(s), this.counts[s] ?? 0)),
    );
  }

  async loadThreads() {
    const query = {
      limit: 50,
      workspace_stage: this.stage,
      label: document.getElementById("filter-label").value.trim(),
      unread: document.getElementById("filter-unread").checked ? "true" : null,
    };
    try {
      const page = await this.api.get("/v1/threads", query);
      fill(
        this.threadsEl,
        page.items.length ? page.items.map((t) => this.threadItem(t)) : h("li", { class: "hint" }, "No threads."),
      );
    } catch (error) {
      this.say(`Threads: ${error.message}`);
    }
  }

  threadItem(t) {
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: "thread-item",
          "aria-current": String(t.id === this.openId),
          dataset: { threadId: t.id, unread: String(t.unread_count) },
          onclick: () => this.open(t.id),
        },
        h("strong", {}, t.their_address),
        t.unread_count ? h("span", { class: "badge", "aria-label": `${t.unread_count} unread` }, t.unread_count) : null,
        h("span", { class: "meta" }, humanize(t.workspace_stage || "no stage"), t.label ? ` · ${t.label}` : ""),
        h("span", { class: "meta" }, when(t.last_message_at)),
      ),
    );
  }

  /** Something new arrived: the list, and the open thread when it is the one. */
  async refresh(event) {
    await this.loadThreads();
    const threadId = event?.data?.thread_id;
    if (this.openId && (!threadId || threadId === this.openId)) await this.open(this.openId, { quiet: true });
  }

  async open(threadId, { quiet = false } = {}) {
    this.openId = threadId;
    for (const b of this.threadsEl.querySelectorAll("button[data-thread-id]")) {
      b.setAttribute("aria-current", String(b.dataset.threadId === threadId));
    }
    try {
      const detail = await this.api.get(`/v1/threads/${threadId}`);
      const leadId = detail.thread.lead_id;
      const [lead, trace, timers] = leadId
        ? await Promise.all([
            this.api.get(`/v1/leads/${leadId}`),
            this.api.get(`/v1/leads/${leadId}/trace`),
            this.api.get(`/v1/leads/${leadId}/timers`),
          ])
        : [null, null, null];
      const suppressions = lead
        ? (await this.api.get("/v1/suppressions", { phone: lead.phone, active: "true" })).items
        : [];
      if (this.openId !== threadId) return; // another thread was chosen meanwhile
      // a refresh keeps what the person is typing, and where
      const typing = this.renderedId === threadId ? this.threadEl.querySelector("#reply") : null;
      const draft = typing?.value ?? "";
      const focused = typing !== null && document.activeElement === typing;
      const [start, end] = focused ? [typing.selectionStart, typing.selectionEnd] : [0, 0];
      const pendingKey = typing?.form?.dataset.sendKey;
      this.render(detail, lead, trace, timers, suppressions, draft, pendingKey);
      this.renderedId = threadId;
      const reply = this.threadEl.querySelector("#reply");
      if (focused && !reply.disabled) {
        reply.focus();
        reply.setSelectionRange(start, end);
      }
      this.followUp(threadId, detail.messages, quiet);
      if (!quiet) {
        this.threadEl.focus();
        this.markRead(threadId).catch((error) => this.say(`Marking read: ${error.message}`));
      }
    } catch (error) {
      this.say(`Thread: ${error.message}`);
    }
  }

  /** A text of ours not yet decided (it goes now, or waits for quiet hours or pacing;
   * then its delivery): look again in a moment, a bounded number of times. */
  followUp(threadId, messages, quiet) {
    clearTimeout(this.followTimer);
    if (!quiet) this.followUps = 0;
    const now = new Date();
    const undecided = messages.some(
      (m) =>
        m.direction === "outbound" &&
        ["queued", "sending"].includes(m.status) &&
        !(m.not_before && new Date(m.not_before) > now),
    );
    if (!undecided || this.followUps >= 30) return;
    this.followUps += 1;
    this.followTimer = setTimeout(() => this.openId === threadId && this.open(threadId, { quiet: true }), 2000);
  }

  async markRead(threadId) {
    const unread = await this.api.get("/v1/notifications", { unread: "true", limit: 100 });
    const mine = unread.items.filter((n) => n.thread_id === threadId);
    await Promise.all(mine.map((n) => this.api.post(`/v1/notifications/${n.id}/read`)));
    if (mine.length) {
      this.setCounts((await this.api.get("/v1/notifications/unread-counts")).counts);
    }
  }

  render(detail, lead, trace, timers, suppressions, draft, pendingKey) {
    const t = detail.thread;
    const history = new Map((trace?.messages || []).map((m) => [m.id, m]));
    const name = lead ? [lead.first_name, lead.last_name].filter(Boolean).join(" ") : "";
    fill(
      this.threadEl,
      h("h3", {}, name ? `${name} (${t.their_address})` : t.their_address),
      h(
        "dl",
        { class: "facts" },
        fact("Our number", t.our_address),
        fact("Stage", humanize(t.workspace_stage || "none")),
        lead ? fact("Lead state", h("span", { id: "lead-state" }, humanize(lead.state))) : null,
        lead ? fact("State since", when(lead.state_changed_at)) : null,
      ),
      h(
        "section",
        { "aria-label": "Insight", class: "insight" },
        h("h4", {}, "Insight"),
        h(
          "dl",
          { class: "facts" },
          fact("Label", t.label || "—"),
          fact("Next step", humanize(t.next_step || "—")),
          fact("Follow up", when(t.next_followup_at)),
          fact("Summary", t.summary || "—"),
        ),
      ),
      timers ? timerList(timers.items) : null,
      h(
        "ol",
        { class: "messages", "aria-label": "Messages" },
        detail.messages.map((m) => messageItem(m, history.get(m.id))),
      ),
      this.composer(t, lead, suppressions, draft, pendingKey),
    );
  }

  composer(t, lead, suppressions, draft, pendingKey) {
    const reason = gateReason(t, lead, suppressions);
    const textarea = h("textarea", {
      id: "reply",
      name: "reply",
      rows: 3,
      maxlength: 1600,
      disabled: reason !== null,
      "aria-describedby": "segments reply-gate",
    });
    textarea.value = reason === null ? draft : "";
    const counter = h("output", { id: "segments", for: "reply", "aria-live": "polite" });
    const count = () => {
      const c = countSegments(textarea.value);
      counter.textContent = `${Array.from(textarea.value).length} characters · ${c.encoding} · ${c.segments} segment${c.segments === 1 ? "" : "s"}`;
      counter.dataset.segments = String(c.segments);
      counter.dataset.encoding = c.encoding;
    };
    textarea.addEventListener("input", count);
    count();
    const form = h(
      "form",
      {
        id: "reply-form",
        class: "composer",
        "aria-label": "Reply",
        dataset: { sendKey: pendingKey || newSendKey(t.id) },
        onsubmit: (e) => {
          e.preventDefault();
          this.send(t, form, textarea);
        },
      },
      h("label", { for: "reply" }, `Reply to ${t.their_address}`),
      h(
        "p",
        { id: "reply-gate", class: reason ? "gate error" : "gate hint", role: reason ? "alert" : null },
        reason ?? `Sends from ${t.our_address}, the number this lead is bound to.`,
      ),
      textarea,
      counter,
      h("button", { type: "submit", disabled: reason !== null }, "Send reply"),
    );
    return form;
  }

  async send(t, form, textarea) {
    const body = textarea.value.trim();
    if (!body) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const sent = await this.api.post("/v1/messages", {
        campaign_id: t.campaign_id,
        lead_id: t.lead_id,
        body,
        template: "console_reply",
        // one key per composed reply: a second click (or a retry) is the same send
        send_key: form.dataset.sendKey,
      });
      textarea.value = "";
      form.dataset.sendKey = newSendKey(t.id);
      this.say(`Reply queued from ${sent.from_number}.`);
      this.followUps = 0;
      await this.open(t.id, { quiet: true });
    } catch (error) {
      this.say(`Not sent: ${error.message}`);
      button.disabled = false;
    }
  }
}

function newSendKey(threadId) {
  return `console:${threadId}:${crypto.randomUUID()}`;
}

function gateReason(t, lead, suppressions) {
  if (!t.lead_id || !t.campaign_id) return "Replies are off: this thread has no lead in a campaign.";
  const active = suppressions[0];
  if (active) {
    const how = active.keyword ? `texted ${active.keyword.toUpperCase()}` : humanize(active.reason);
    const at = new Date(active.created_at).toLocaleString();
    const note = active.note ? `: ${active.note}` : "";
    return `Replies are off: the lead is suppressed (${humanize(active.reason)}, ${how}, ${at})${note}.`;
  }
  if (lead && STOPPED_STATES.has(lead.state)) return `Replies are off: the lead is ${lead.state}.`;
  return null;
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function timerList(items) {
  return h(
    "section",
    { "aria-label": "Timers", class: "timers" },
    h("h4", {}, "Timers"),
    items.length
      ? h(
          "ul",
          {},
          items.map((x) =>
            h(
              "li",
              {},
              `${x.timer_type}: `,
              x.executed_at ? ["fired ", when(x.executed_at)] : x.cancelled_at ? `cancelled (${humanize(x.cancel_reason)})` : ["due ", when(x.trigger_at)],
            ),
          ),
        )
      : h("p", { class: "hint" }, "No timers."),
  );
}

function messageItem(m, traced) {
  const held = m.direction === "outbound" && m.not_before && new Date(m.not_before) > new Date();
  return h(
    "li",
    { class: `message ${m.direction}`, dataset: { messageId: m.id, direction: m.direction, status: m.status } },
    h(
      "p",
      { class: "meta" },
      m.direction === "inbound" ? `In from ${m.from_address}` : `Out from ${m.from_address}`,
      " · ",
      when(m.received_at || m.sent_at || m.created_at),
    ),
    h("p", { class: "body" }, m.body),
    m.media_urls?.length
      ? h(
          "ul",
          { class: "media", "aria-label": "Media" },
          m.media_urls.map((url, i) => h("li", {}, h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, `Media ${i + 1}`))),
        )
      : null,
    h(
      "p",
      { class: "meta" },
      `Status: ${humanize(m.status)}`,
      m.error_reason ? ` (${m.error_reason})` : "",
      held
        ? h("span", { class: "held", dataset: { notBefore: m.not_before } }, " · held (quiet hours at the recipient, or pacing); goes at ", when(m.not_before))
        : null,
    ),
    traced?.status_history?.length
      ? h(
          "details",
          {},
          h("summary", {}, "Status history"),
          h(
            "ol",
            {},
            traced.status_history.map((s) =>
              h("li", {}, `${humanize(s.status)}${s.error_code ? ` (${s.error_code})` : ""} `, when(s.occurred_at)),
            ),
          ),
        )
      : null,
  );
}
