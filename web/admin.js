// The admin dashboard: progress, agreement (Cohen's kappa per pair, Krippendorff's alpha), agreement
// of each annotator with the others, AI labels versus people per principle, flags, consensus per
// item, and the exports.
import { api, token } from "./api.js";
import { clear, fmt, h, toast } from "./dom.js";

function table(id, headers, rows) {
  return h(
    "table",
    { id },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((x) => h("th", {}, x)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((r) =>
            h(
              "tr",
              { class: r.class ?? "" },
              r.cells.map((x) => h("td", {}, x)),
            ),
          )
        : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none yet")),
    ),
  );
}

/** A prompt as one short line: its text (messages joined), cut to `max` characters; the whole text is the cell's tooltip. */
function promptCell(prompt, max = 140) {
  const text = prompt.replace(/\s+/g, " ").trim();
  if (text === "") return h("span", { class: "empty" }, "(empty)");
  return h("span", { title: prompt }, text.length > max ? `${text.slice(0, max - 1)}…` : text);
}

/**
 * Consensus per item, by prompt text; items nobody has answered yet say nothing, so they are hidden
 * until asked for (a fresh campaign would otherwise list every item as "1 > 2").
 */
function itemsSection(items) {
  const answered = items.filter((i) => i.answers > 0);
  const unanswered = items.length - answered.length;
  const holder = h("div", {});
  const render = (all) =>
    clear(holder).append(
      table(
        "items-table",
        ["prompt", "answers", "all unacceptable", "ranking (Bradley–Terry)", "pairs (votes for each, neither)"],
        (all ? items : answered).map((i) => ({
          cells: [
            promptCell(i.prompt),
            i.answers,
            i.unacceptable,
            i.answers > 0 ? i.consensus.ranking.map((r) => r + 1).join(" > ") : "",
            i.consensus.pairs
              .map((p) => `${p.i + 1}:${p.j + 1} ${p.forI}-${p.forJ}${p.neither ? `, ${p.neither} neither` : ""}`)
              .join("; "),
          ],
        })),
      ),
    );
  render(false);
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "Consensus per item"),
    unanswered > 0
      ? h(
          "label",
          { class: "muted" },
          h("input", { type: "checkbox", id: "show-unanswered", onchange: (event) => render(event.target.checked) }),
          ` show the ${unanswered} item(s) nobody has answered yet`,
        )
      : null,
    holder,
  );
}

async function download(campaign, kind) {
  // A plain link cannot carry the bearer token, so fetch it and hand the browser a blob.
  const response = await fetch(`/api/admin/campaigns/${campaign.id}/export?kind=${kind}`, {
    headers: { authorization: `Bearer ${token.get()}` },
  });
  if (!response.ok) return toast(`export failed: ${response.status}`, "error");
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: `${campaign.name}-${kind}.jsonl` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function renderAdmin(main) {
  const campaigns = await api("/api/campaigns");
  clear(main);
  if (campaigns.length === 0) {
    main.append(h("div", { class: "card narrow" }, h("p", {}, "No campaigns yet: precept annotate create-campaign --help")));
    return;
  }
  const select = h(
    "select",
    { id: "campaign", onchange: () => show(Number(select.value)) },
    campaigns.map((c) => h("option", { value: String(c.id) }, c.name)),
  );
  const body = h("div", { id: "report" });
  main.append(
    h(
      "div",
      { class: "toolbar" },
      h("h1", {}, "Dashboard"),
      select,
      h("button", { type: "button", id: "refresh", onclick: () => show(Number(select.value)) }, "Refresh"),
    ),
    body,
  );

  async function show(id) {
    const report = await api(`/api/admin/campaigns/${id}/report`);
    const c = report.campaign;
    const a = report.agreement;
    clear(body).append(
      h(
        "section",
        { class: "card" },
        h("h2", {}, `${c.name}: progress`),
        h(
          "p",
          { id: "summary" },
          `${c.items} items · mode ${c.mode} · overlap ${c.overlap} · ${report.progress.answers} answers · ${report.progress.complete} items complete`,
        ),
        table(
          "progress-table",
          ["annotator", "answered", "skipped", "open"],
          report.progress.annotators.map((p) => ({ cells: [p.name, p.answered, p.skipped, p.open] })),
        ),
        h(
          "p",
          { class: "row" },
          h("button", { type: "button", id: "export-consensus", onclick: () => download(c, "consensus") }, "Export consensus (TRL JSONL)"),
          h("button", { type: "button", id: "export-raw", onclick: () => download(c, "raw") }, "Export raw answers (JSONL)"),
        ),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Agreement"),
        h(
          "p",
          {},
          "Krippendorff's α (nominal, over pairwise preferences): ",
          h("strong", { id: "alpha" }, fmt(a.alpha)),
          h("span", { class: "muted" }, ` (${a.alphaN} pairable judgements)`),
        ),
        h("h3", {}, "Cohen's κ per pair of annotators"),
        table(
          "kappa-table",
          ["annotator", "annotator", "κ", "shared judgements"],
          a.kappa.map((k) => ({ cells: [k.a, k.b, fmt(k.kappa), k.n] })),
        ),
        h("h3", {}, "Agreement with the others' majority"),
        table(
          "consensus-agreement",
          ["annotator", "agree", "of", "rate", ""],
          a.withConsensus.map((x) => ({
            class: x.low ? "low" : "",
            cells: [x.annotator, x.agree, x.n, fmt(x.rate, 2), x.low ? "low agreement" : ""],
          })),
        ),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "AI labels versus people, per principle"),
        table(
          "ai-table",
          ["principle", "pairs", "agree", "rate"],
          report.ai.map((p) => ({ cells: [p.principle, p.n, p.agree, fmt(p.rate, 2)] })),
        ),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Flags"),
        table(
          "flags-table",
          ["flag", "count"],
          Object.entries(report.flags).map(([flag, n]) => ({ cells: [flag, n] })),
        ),
      ),
      itemsSection(report.items),
    );
  }
  await show(campaigns[0].id);
}
