// The call queue: claim the next call, lease the lead a number of the pool for it, and
// record the outcome; the lease's release time follows the outcome (seed 001's rules).

import { fill, h, humanize, when } from "./dom.js";

const AGENT = "tether.agent";

export class Calls {
  constructor(api, say) {
    this.api = api;
    this.say = say;
    this.list = document.getElementById("call-list");
    this.claimed = document.getElementById("claimed");
    const agent = document.getElementById("agent");
    agent.value = sessionStorage.getItem(AGENT) || "";
    document.getElementById("claim-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(AGENT, agent.value.trim());
      this.claim(agent.value.trim());
    });
  }

  async show() {
    try {
      const page = await this.api.get("/v1/call-queue", { limit: 50 });
      fill(
        this.list,
        page.items.length
          ? table(
              ["Lead", "Phone", "Priority", "Reason", "Status", "Due", "Claimed by"],
              page.items.map((c) => [
                fullName(c),
                c.lead_phone,
                c.priority,
                humanize(c.reason),
                humanize(c.status),
                when(c.due_at),
                c.claimed_by || "—",
              ]),
            )
          : h("p", { class: "hint" }, "Nothing queued."),
      );
    } catch (error) {
      this.say(`Call queue: ${error.message}`);
    }
  }

  async claim(agent) {
    try {
      const { entry } = await this.api.post("/v1/call-queue/claim", { claimed_by: agent });
      if (!entry) {
        fill(this.claimed, h("p", { class: "hint" }, "No call is due."));
        return;
      }
      const lease = await this.api.post(`/v1/leads/${entry.lead_id}/lease`, {});
      this.renderClaimed(entry, lease);
      this.show();
    } catch (error) {
      this.say(`Claim: ${error.message}`);
    }
  }

  renderClaimed(entry, lease) {
    const outcome = h("fieldset", {}, h("legend", {}, "Outcome"),
      ["booked", "no_booking", "no_answer"].map((value) =>
        h("label", { class: "check" },
          h("input", { type: "radio", name: "outcome", value, required: true, checked: value === "booked" }),
          ` ${humanize(value)}`),
      ),
    );
    const appointment = h("input", { id: "appointment", name: "appointment", type: "datetime-local" });
    const result = h("div", { id: "outcome-result", "aria-live": "polite" });
    const form = h(
      "form",
      {
        id: "outcome-form",
        class: "card",
        onsubmit: (e) => {
          e.preventDefault();
          this.record(entry, form, appointment, result);
        },
      },
      h("h3", {}, `Call ${fullName(entry)} at `, h("a", { href: `tel:${entry.lead_phone}` }, entry.lead_phone)),
      h("p", {}, `Why: ${humanize(entry.reason)} · priority ${entry.priority}`),
      h(
        "p",
        { id: "lease", dataset: { releaseAt: lease.release_at } },
        `Call from ${lease.phone_number} (pool ${lease.pool}); lease released at `,
        when(lease.release_at),
      ),
      outcome,
      h("label", { for: "appointment" }, "Appointment (when booked)"),
      appointment,
      h("button", { type: "submit" }, "Record outcome"),
      result,
    );
    fill(this.claimed, form);
    form.querySelector("input[name=outcome]").focus();
  }

  async record(entry, form, appointment, result) {
    const outcome = new FormData(form).get("outcome");
    const body = { outcome };
    if (outcome === "booked") {
      if (!appointment.value) {
        this.say("Give the appointment's time.");
        appointment.focus();
        return;
      }
      // datetime-local is the agent's local time: sent with its offset
      body.appointment_at = new Date(appointment.value).toISOString();
    }
    try {
      const answer = await this.api.post(`/v1/leads/${entry.lead_id}/call-outcome`, body);
      fill(
        result,
        h(
          "p",
          { id: "release", dataset: { releaseAt: answer.release_at || "" } },
          answer.release_at ? ["Recorded. The number is held until ", when(answer.release_at), "."] : "Recorded. The number was released now.",
        ),
      );
      this.show();
    } catch (error) {
      this.say(`Outcome: ${error.message}`);
    }
  }
}

export function fullName(x) {
  return [x.first_name, x.last_name].filter(Boolean).join(" ") || "(no name)";
}

export function table(headers, rows) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((x) => h("td", {}, x))))),
    ),
  );
}
