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

// Bidirectional embedding, override and isolate controls (and the marks): in model output they can make text
// display in an order other than the one it is stored in (visual spoofing). They are shown as visible
// markers instead of acting, and each text block is its own bidi paragraph (style.css: unicode-bidi).
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Text as nodes in which each bidi control character is a visible, inert marker such as ⟦U+202E⟧. */
export function inertText(value) {
  const text = String(value);
  const parts = [];
  let at = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    if (match.index > at) parts.push(text.slice(at, match.index));
    const code = `U+${match[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    parts.push(h("span", { class: "bidi-control", title: `invisible direction control ${code}` }, `⟦${code}⟧`));
    at = match.index + match[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

/** A TRL field (string, or list of {role, content}) as readable blocks. */
/** Shown in place of a text that is empty or only whitespace, so a blank response is seen as one, not as a layout gap. */
const EMPTY = "(empty)";

export function textBlock(value, className = "text") {
  if (typeof value === "string") {
    if (value.trim() === "") return h("div", { class: `${className} empty`, dir: "auto" }, EMPTY);
    return h("div", { class: className, dir: "auto" }, inertText(value));
  }
  return h(
    "div",
    { class: `${className} messages` },
    value.map((m) =>
      h(
        "div",
        { class: `message role-${String(m.role).replace(/[^a-z]/g, "")}` },
        h("span", { class: "role" }, inertText(m.role)),
        String(m.content).trim() === ""
          ? h("div", { class: "content empty", dir: "auto" }, EMPTY)
          : h("div", { class: "content", dir: "auto" }, inertText(m.content)),
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
