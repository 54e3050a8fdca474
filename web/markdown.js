// A small Markdown subset for guidelines, rendered as DOM nodes (never as an HTML string), so any
// HTML in the text shows as text: headings, paragraphs, lists, code blocks, **bold**, *italic*,
// `code`, and [links](https://...) to http(s) addresses only.
import { h } from "./dom.js";

const INLINE = /(\*\*([^*]+)\*\*|\*([^*]+)\*|_([^_]+)_|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\))/;

export function inline(text) {
  const out = [];
  let rest = text;
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    if (m.index > 0) out.push(rest.slice(0, m.index));
    if (m[2] !== undefined) out.push(h("strong", {}, inline(m[2])));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(h("em", {}, inline(m[3] ?? m[4])));
    else if (m[5] !== undefined) out.push(h("code", {}, m[5]));
    else if (/^https?:\/\//i.test(m[7])) out.push(h("a", { href: m[7], target: "_blank", rel: "noopener noreferrer" }, inline(m[6])));
    else out.push(m[0]);
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest) out.push(rest);
  return out;
}

export function renderMarkdown(source) {
  const root = h("div", { class: "markdown" });
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null;
  const flush = () => {
    if (paragraph.length) root.append(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      root.append(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      root.append(h(`h${Math.min(heading[1].length + 2, 6)}`, {}, inline(heading[2])));
    } else if (bullet || numbered) {
      if (paragraph.length) flush();
      const tag = bullet ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag);
        root.append(list);
      }
      list.append(h("li", {}, inline((bullet ?? numbered)[1])));
    } else if (line.trim() === "") flush();
    else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return root;
}
