// The console's shell: log in, the page menu, and one page at a time (chosen by the URL's #/name).

import * as api from "./api.js";
import * as backends from "./pages/backends.js";
import * as keys from "./pages/keys.js";
import * as planner from "./pages/planner.js";
import * as policy from "./pages/policy.js";
import * as requests from "./pages/requests.js";
import * as spend from "./pages/spend.js";

const PAGES = { backends, requests, spend, policy, keys, planner };
const DEFAULT_PAGE = "backends";

const elements = {
  login: document.getElementById("login"),
  loginForm: document.getElementById("login-form"),
  keyInput: document.getElementById("admin-key"),
  loginError: document.getElementById("login-error"),
  nav: document.getElementById("nav"),
  page: document.getElementById("page"),
  logout: document.getElementById("logout"),
  demoBadge: document.getElementById("demo-badge"),
  main: document.getElementById("main"),
};

let session = null;
let leavePage = null;

function pageName() {
  const match = window.location.hash.match(/^#\/([a-z]+)/);
  return match && PAGES[match[1]] ? match[1] : DEFAULT_PAGE;
}

function showLogin(message) {
  if (leavePage) leavePage();
  leavePage = null;
  session = null;
  elements.page.hidden = true;
  elements.page.replaceChildren();
  elements.nav.hidden = true;
  elements.logout.hidden = true;
  elements.demoBadge.hidden = true;
  elements.login.hidden = false;
  elements.loginError.textContent = message ?? "";
  document.title = "Log in · Switchyard console";
  elements.keyInput.focus();
}

function showPage(moveFocus) {
  if (!session) return;
  if (leavePage) leavePage();
  const name = pageName();
  for (const link of elements.nav.querySelectorAll("a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  elements.page.replaceChildren();
  const module = PAGES[name];
  document.title = `${module.TITLE} · Switchyard console`;
  leavePage = module.render(elements.page, { session }) ?? null;
  if (moveFocus) {
    const heading = elements.page.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
}

function enter(opened) {
  session = opened;
  elements.login.hidden = true;
  elements.loginError.textContent = "";
  elements.keyInput.value = "";
  elements.nav.hidden = false;
  elements.logout.hidden = false;
  elements.demoBadge.hidden = !session.demo;
  elements.page.hidden = false;
  showPage(true);
}

elements.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = elements.keyInput.value.trim();
  if (!key) return;
  try {
    enter(await api.login(key));
  } catch (error) {
    elements.loginError.textContent = error.status === 403 ? `Not logged in: ${error.message}` : error.message;
    elements.keyInput.select();
  }
});

elements.logout.addEventListener("click", () => {
  api.logout();
  showLogin("Logged out.");
});

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();  // the URL's #/page stays as it is
  elements.main.focus();
});

window.addEventListener("hashchange", () => showPage(true));
api.whenUnauthorized((error) => {
  api.logout();
  showLogin(`Logged out: ${error.message}`);
});

async function start() {
  const key = api.storedKey();
  if (!key) {
    showLogin();
    return;
  }
  try {
    enter(await api.login(key));
  } catch (error) {
    api.logout();
    showLogin(error.status === 403 ? "The stored admin key was refused; log in again." : error.message);
  }
}

start();
