// Building the page from elements and text nodes only: model output is never parsed as HTML.

/** h("div", { class: "x", onclick: fn }, "text", child) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the page's CSP forbids inline style attributes.
    else if (key === "style") for (const [name, v] of Object.entries(value)) el.style.setProperty(name, v);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A TRL field (string, or list of {role, content}) as readable blocks. */
export function textBlock(value, className = "text") {
  if (typeof value === "string") return h("div", { class: className }, value);
  return h(
    "div",
    { class: `${className} messages` },
    value.map((m) =>
      h(
        "div",
        { class: `message role-${String(m.role).replace(/[^a-z]/g, "")}` },
        h("span", { class: "role" }, m.role),
        h("div", {}, m.content),
      ),
    ),
  );
}

let toastTimer;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.className = ""), 2500);
}

export function fmt(x, digits = 3) {
  return x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(digits);
}
