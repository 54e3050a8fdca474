// Sign-in and routing: the token decides the role; annotators get their campaigns and tasks,
// the admin gets the dashboard.
import { renderAdmin } from "./admin.js";
import { ApiError, api, token } from "./api.js";
import { clear, h } from "./dom.js";
import { renderTask } from "./task.js";

const main = document.getElementById("main");

function signIn(message) {
  clear(main);
  const input = h("input", { id: "token", type: "password", autocomplete: "off", placeholder: "your token", required: true, size: 48 });
  const form = h(
    "form",
    {
      id: "signin",
      class: "card narrow",
      onsubmit: (event) => {
        event.preventDefault();
        token.set(input.value.trim());
        start();
      },
    },
    h("h2", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste the token your campaign admin gave you (precept annotate add-user)."),
    input,
    " ",
    h("button", { type: "submit" }, "Sign in"),
    message ? h("p", { class: "error" }, message) : null,
  );
  main.append(form);
  input.focus();
}

async function chooseCampaign(me) {
  const campaigns = await api("/api/campaigns");
  clear(main);
  if (campaigns.length === 0) {
    main.append(h("div", { class: "card narrow" }, h("p", {}, `Hello ${me.name}: you are not in any campaign yet.`)));
    return;
  }
  if (campaigns.length === 1) return renderTask(main, campaigns[0].id);
  main.append(
    h(
      "div",
      { class: "card narrow" },
      h("h2", {}, "Your campaigns"),
      h(
        "ul",
        { class: "campaigns" },
        campaigns.map((c) =>
          h(
            "li",
            {},
            h("button", { type: "button", onclick: () => renderTask(main, c.id) }, c.name),
            ` ${c.progress.answered} answered, ${c.progress.remaining} to go`,
          ),
        ),
      ),
    ),
  );
}

async function start() {
  if (!token.get()) return signIn();
  let me;
  try {
    me = await api("/api/me");
  } catch (error) {
    token.clear();
    return signIn(error instanceof ApiError && error.status === 401 ? "That token is not valid." : error.message);
  }
  document.getElementById("whoami").textContent = `${me.name} (${me.role})`;
  document.getElementById("signout").hidden = false;
  if (me.role === "admin") return renderAdmin(main);
  return chooseCampaign(me);
}

document.getElementById("signout").addEventListener("click", () => {
  token.clear();
  document.getElementById("whoami").textContent = "";
  document.getElementById("signout").hidden = true;
  signIn();
});

start();
