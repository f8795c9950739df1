// The console's entry: config.json (where the API and the WebSocket API are), sign-in
// with an API key kept in sessionStorage only, and the sections by URL hash.

import { Api } from "./api.js";
import { Calls } from "./calls.js";
import { Campaigns } from "./campaigns.js";
import { Inbox } from "./inbox.js";
import { Live } from "./live.js";
import { Pools } from "./pools.js";

const SECTIONS = ["inbox", "calls", "pools", "campaigns"];

async function main() {
  const config = await (await fetch("config.json", { cache: "no-store" })).json();
  const api = new Api(config.api_base);
  const status = document.getElementById("status");
  const say = (text) => {
    status.textContent = text;
  };
  const views = {
    inbox: new Inbox(api, say),
    calls: new Calls(api, say),
    pools: new Pools(api, say),
    campaigns: new Campaigns(api, say),
  };
  let live = null;

  const route = () => {
    say(""); // a message belongs to the section it came from
    const signedIn = Boolean(api.key);
    document.getElementById("nav").hidden = !signedIn;
    document.getElementById("sign-in").hidden = signedIn;
    const wanted = location.hash.slice(1);
    const current = SECTIONS.includes(wanted) ? wanted : "inbox";
    for (const name of SECTIONS) {
      document.getElementById(name).hidden = !signedIn || name !== current;
      const link = document.querySelector(`#nav a[href="#${name}"]`);
      if (name === current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (!signedIn) {
      document.getElementById("api-key").focus();
      return;
    }
    if (!live) {
      live = new Live({
        api,
        websocketUrl: config.websocket_url,
        pollSeconds: config.poll_seconds,
        onCounts: (counts) => views.inbox.setCounts(counts),
        onReply: (event) => views.inbox.refresh(event),
        onTick: () => {},
        onMode: (mode) => {
          const el = document.getElementById("mode");
          el.textContent = mode === "websocket" ? "Live" : "Live (polling)";
          el.dataset.mode = mode;
        },
      });
      live.start();
    }
    views[current].show();
  };

  document.getElementById("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("sign-in-error");
    api.signIn(document.getElementById("api-key").value.trim());
    try {
      await api.get("/v1/notifications/unread-counts"); // any read route checks the key
      error.textContent = "";
      document.getElementById("api-key").value = "";
      route();
      document.getElementById("main").focus();
    } catch (failure) {
      api.signOut();
      error.textContent = failure.status === 401 ? "That key is not valid." : `Sign-in failed: ${failure.message}`;
    }
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    api.signOut();
    if (live) live.stop();
    live = null;
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

main().catch((error) => {
  document.getElementById("status").textContent = `The console could not start: ${error.message}`;
});
