// The task screen: the conversation, the responses side by side in this annotator's order, pick
// one (keys 1..N) or rank them (drag, or type the numbers best first and press Enter), "all
// unacceptable" (x), flags per response, an optional reason, skip (s), undo (u), progress.
import { ApiError, api, idempotencyKey } from "./api.js";
import { clear, h, textBlock, toast } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

const FLAG_LABELS = {
  pii: "Personal data (PII)",
  hate_harassment: "Hate or harassment",
  dangerous_advice: "Dangerous advice",
  medical_no_disclaimer: "Medical claim without disclaimer",
  other: "Other",
};

let keyHandler = null;

export async function renderTask(main, campaignId) {
  const campaign = await api(`/api/campaigns/${campaignId}`);
  const state = { campaign, task: null, key: null, ranking: [], busy: false };

  const progress = h("span", { id: "progress", class: "muted" });
  const taskArea = h("section", { id: "task", class: "task" });
  const guidelines = h(
    "aside",
    { id: "guidelines", class: "card guidelines" },
    h("h2", {}, "Guidelines"),
    campaign.guidelines ? renderMarkdown(campaign.guidelines) : h("p", { class: "muted" }, "No guidelines for this campaign."),
  );
  const undoButton = h(
    "button",
    { id: "undo", type: "button", title: "Undo your last answer (u)", onclick: () => undo() },
    "Undo last (u)",
  );
  const skipButton = h("button", { id: "skip", type: "button", title: "Skip this item (s)", onclick: () => skip() }, "Skip (s)");
  clear(main).append(
    h("div", { class: "toolbar" }, h("h1", {}, campaign.name), progress, h("span", { class: "spacer" }), undoButton, skipButton),
    h("div", { class: "layout" }, taskArea, guidelines),
  );

  function showProgress(p) {
    progress.textContent = `${p.answered} answered · ${p.remaining} to go${p.skipped ? ` · ${p.skipped} skipped` : ""}`;
  }

  async function load() {
    const { task, progress: p } = await api(`/api/campaigns/${campaignId}/task`);
    state.task = task;
    state.key = idempotencyKey();
    state.ranking = [];
    state.typed = [];
    clear(taskArea);
    if (!task) {
      showProgress(p);
      skipButton.disabled = true;
      taskArea.append(
        h("div", { id: "done", class: "card" }, h("h2", {}, "All done"), h("p", {}, "Nothing left for you in this campaign. Thank you!")),
      );
      return;
    }
    skipButton.disabled = false;
    showProgress(task.progress);
    drawTask(task);
  }

  function drawTask(task) {
    const n = task.responses.length;
    const rankMode = campaign.mode === "rank";
    taskArea.append(h("div", { class: "card conversation" }, h("h2", {}, "Conversation"), textBlock(task.prompt, "text prompt")));
    const cards = task.responses.map((response, position) =>
      h(
        "article",
        { class: "card response", dataset: { position: String(position) } },
        h("h3", {}, `Response ${position + 1}`),
        textBlock(response),
        rankMode
          ? null
          : h(
              "button",
              { type: "button", class: "pick primary", onclick: () => submit({ ranking: [position] }) },
              `This one is better (${position + 1})`,
            ),
        h(
          "fieldset",
          { class: "flags" },
          h("legend", {}, "Flags"),
          campaign.flags.map((flag) =>
            h(
              "label",
              {},
              h("input", { type: "checkbox", class: "flag", dataset: { flag, position: String(position) } }),
              ` ${FLAG_LABELS[flag] ?? flag}`,
            ),
          ),
        ),
      ),
    );
    taskArea.append(h("div", { class: "responses", style: { "--columns": String(Math.min(n, 4)) } }, cards));
    if (rankMode) taskArea.append(rankList(n));
    taskArea.append(
      h(
        "div",
        { class: "card actions" },
        h("label", { for: "reason" }, "Reason (optional)"),
        h("textarea", { id: "reason", rows: 2, maxlength: 2000, placeholder: "Why? (optional)" }),
        h(
          "div",
          { class: "row" },
          rankMode
            ? h(
                "button",
                { id: "submit-ranking", type: "button", class: "primary", onclick: () => submit({ ranking: state.ranking }) },
                "Submit ranking (Enter)",
              )
            : null,
          h(
            "button",
            { id: "unacceptable", type: "button", class: "danger", onclick: () => submit({ ranking: [], unacceptable: true }) },
            "All unacceptable (x)",
          ),
        ),
        h(
          "p",
          { class: "muted keys" },
          rankMode
            ? "Keys: type response numbers best first, Enter submits, Backspace clears · x all unacceptable · s skip · u undo"
            : `Keys: 1–${n} pick · x all unacceptable · s skip · u undo`,
        ),
      ),
    );
  }

  /** The ranking as a list to reorder by dragging; it starts in the shown order. */
  function rankList(n) {
    state.ranking = Array.from({ length: n }, (_, i) => i);
    const list = h("ol", { id: "ranking", class: "card ranking" });
    const draw = () => {
      clear(list);
      state.ranking.forEach((position, index) => {
        list.append(
          h(
            "li",
            {
              draggable: "true",
              dataset: { position: String(position) },
              ondragstart: (event) => event.dataTransfer.setData("text/plain", String(index)),
              ondragover: (event) => event.preventDefault(),
              ondrop: (event) => {
                event.preventDefault();
                const from = Number(event.dataTransfer.getData("text/plain"));
                const [moved] = state.ranking.splice(from, 1);
                state.ranking.splice(index, 0, moved);
                draw();
              },
            },
            `Response ${position + 1}`,
          ),
        );
      });
    };
    state.redrawRanking = draw;
    draw();
    return h("div", {}, h("h2", {}, "Your ranking (best first, drag to reorder)"), list);
  }

  function collectFlags() {
    return [...taskArea.querySelectorAll("input.flag:checked")].map((box) => ({
      response: Number(box.dataset.position),
      flag: box.dataset.flag,
    }));
  }

  async function submit({ ranking, unacceptable = false }) {
    if (!state.task || state.busy) return;
    state.busy = true;
    const body = {
      itemId: state.task.itemId,
      idempotencyKey: state.key,
      ranking,
      unacceptable,
      flags: collectFlags(),
      reason: taskArea.querySelector("#reason")?.value ?? "",
    };
    try {
      // Retried with the same key after a network error: the server stores the answer once.
      await withRetry(() => api(`/api/campaigns/${campaignId}/answers`, { method: "POST", body }));
      toast("Saved", "ok");
      await load();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      state.busy = false;
    }
  }

  async function skip() {
    if (!state.task || state.busy) return;
    state.busy = true;
    try {
      await api(`/api/campaigns/${campaignId}/skip`, { method: "POST", body: { itemId: state.task.itemId } });
      toast("Skipped");
      await load();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      state.busy = false;
    }
  }

  async function undo() {
    if (state.busy) return;
    state.busy = true;
    try {
      const { undone } = await api(`/api/campaigns/${campaignId}/undo`, { method: "POST", body: {} });
      toast(undone ? "Last answer withdrawn: answer it again" : "Nothing to undo");
      await load();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      state.busy = false;
    }
  }

  if (keyHandler) document.removeEventListener("keydown", keyHandler);
  keyHandler = (event) => {
    if (event.target instanceof HTMLElement && event.target.closest("input, textarea, select")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const n = state.task?.responses.length ?? 0;
    if (event.key === "u") undo();
    else if (event.key === "s") skip();
    else if (event.key === "x") submit({ ranking: [], unacceptable: true });
    else if (/^[1-9]$/.test(event.key) && Number(event.key) <= n) {
      const position = Number(event.key) - 1;
      if (campaign.mode === "pick") submit({ ranking: [position] });
      else {
        // Typed ranking: each number goes next; the rest keep their order after it.
        const typed = state.typed ?? [];
        if (!typed.includes(position)) typed.push(position);
        state.typed = typed;
        state.ranking = [...typed, ...state.ranking.filter((p) => !typed.includes(p))];
        state.redrawRanking?.();
      }
    } else if (event.key === "Backspace" && campaign.mode === "rank") {
      state.typed = [];
      state.ranking = Array.from({ length: n }, (_, i) => i);
      state.redrawRanking?.();
    } else if (event.key === "Enter" && campaign.mode === "rank" && state.task) {
      state.typed = [];
      submit({ ranking: state.ranking });
    } else return;
    event.preventDefault();
  };
  document.addEventListener("keydown", keyHandler);
  await load();
}

async function withRetry(call, tries = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApiError || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
    }
  }
}
