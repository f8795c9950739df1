// Elements made from data with textContent only: nothing the API returns is ever
// parsed as HTML.

/** h("button", {type: "button", onclick: f}, "text", child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace what `el` holds. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <time> with the instant in its datetime attribute and the local time as text. */
export function when(iso, empty = "—") {
  if (!iso) return empty;
  const at = new Date(iso);
  return h("time", { datetime: at.toISOString(), title: at.toISOString() }, at.toLocaleString());
}

export function humanize(name) {
  return String(name ?? "").replaceAll("_", " ");
}
