// Campaigns: progress and results, pause and resume.

import { fill, h, humanize, when } from "./dom.js";

export class Campaigns {
  constructor(api, say) {
    this.api = api;
    this.say = say;
    this.el = document.getElementById("campaign-list");
  }

  async show() {
    try {
      const page = await this.api.get("/v1/campaigns", { limit: 50 });
      const cards = await Promise.all(page.items.map((c) => this.card(c.id)));
      fill(this.el, cards.length ? cards : h("p", { class: "hint" }, "No campaigns."));
    } catch (error) {
      this.say(`Campaigns: ${error.message}`);
    }
  }

  async card(id) {
    const [c, stats] = await Promise.all([
      this.api.get(`/v1/campaigns/${id}`),
      this.api.get(`/v1/campaigns/${id}/stats`),
    ]);
    const p = c.progress || {};
    const r = stats.overall;
    const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);
    const action = c.status === "paused" ? "resume" : "pause";
    const canToggle = c.status === "active" || c.status === "paused";
    return h(
      "article",
      { class: "card", dataset: { campaignId: c.id, status: c.status } },
      h("h3", {}, c.name),
      h("p", { class: "meta" }, `${humanize(c.workspace_stage)} · ${c.ai_worker} · pool ${c.pool} · `, h("strong", {}, humanize(c.status)), c.launched_at ? [" · launched ", when(c.launched_at)] : ""),
      h(
        "dl",
        { class: "facts" },
        fact("Leads", p.leads ?? 0),
        fact("Sent / delivered / failed", `${p.sent ?? 0} / ${p.delivered ?? 0} / ${p.failed ?? 0}`),
        fact("Waiting", (p.waiting ?? 0) + (p.sending ?? 0)),
        fact("Replies", `${r.replies} (${pct(r.reply_rate)})`),
        fact("Opt-outs", `${r.opt_outs} (${pct(r.opt_out_rate)})`),
      ),
      canToggle
        ? h("button", { type: "button", onclick: () => this.toggle(c, action) }, action === "pause" ? `Pause ${c.name}` : `Resume ${c.name}`)
        : null,
    );
  }

  async toggle(c, action) {
    try {
      await this.api.post(`/v1/campaigns/${c.id}/${action}`);
      this.say(`${c.name}: ${action === "pause" ? "paused" : "resumed"}.`);
      this.show();
    } catch (error) {
      this.say(`${c.name}: ${error.message}`);
    }
  }
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}
