// Pools: health per pool, the numbers leased now, and leases past their release time
// (the release job frees those within minutes; one listed here long is worth a look).

import { fill, h, when } from "./dom.js";
import { table } from "./calls.js";

export class Pools {
  constructor(api, say) {
    this.api = api;
    this.say = say;
  }

  async show() {
    try {
      const [health, leased] = await Promise.all([
        this.api.get("/v1/pools"),
        this.api.get("/v1/phone-numbers", { assignment_status: "assigned", limit: 200 }),
      ]);
      fill(
        document.getElementById("pool-health"),
        table(
          ["Pool", "Free", "Leased", "Resting", "All"],
          health.pools.map((p) => [p.pool, p.available, p.assigned, p.cooldown, p.total]),
        ),
      );
      const now = new Date();
      const overdue = leased.items.filter((n) => n.release_at && new Date(n.release_at) < now);
      const rows = (items) => items.map((n) => [n.e164, n.pool, n.currently_assigned_to || "—", when(n.release_at)]);
      const headers = ["Number", "Pool", "Lead", "Release at"];
      fill(
        document.getElementById("overdue"),
        overdue.length ? table(headers, rows(overdue)) : h("p", { class: "hint" }, "None overdue."),
      );
      fill(
        document.getElementById("leases"),
        leased.items.length ? table(headers, rows(leased.items)) : h("p", { class: "hint" }, "No number is leased."),
      );
    } catch (error) {
      this.say(`Pools: ${error.message}`);
    }
  }
}
