// What every page shares: the navigation (who is signed in), the theme, and guards for
// pages that need an account.
import { me, signOut, token } from "./api.js";
import { fill, h } from "./dom.js";

function link(href, text) {
  const current = location.pathname === href ? "page" : null;
  return h("li", {}, h("a", { href, "aria-current": current }, text));
}

/** Applies a theme preference: dark (the default), light, or the system's. */
export function applyTheme(theme) {
  let chosen = theme || "dark";
  if (chosen === "system") {
    chosen = matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
  }
  document.documentElement.dataset.theme = chosen;
}

/** Renders the navigation; answers the signed-in account (or null). */
export async function setUpPage() {
  const nav = document.getElementById("site-nav");
  let account = null;
  try {
    account = await me();
  } catch {
    account = null;
  }
  applyTheme(account?.theme);
  const items = [link("/", "Home")];
  if (account) {
    items.push(link("/dashboard", "Dashboard"), link("/dashboard/profile", "Profile"));
    const out = h("button", { type: "button", class: "link", onclick: () => { signOut(); location.assign("/"); } },
      "Sign out");
    items.push(h("li", { class: "muted" }, `@${account.username || "new user"}`), h("li", {}, out));
  } else {
    items.push(link("/auth/login", "Sign in"), link("/auth/register", "Sign up"));
  }
  if (nav) fill(nav, h("ul", {}, items));
  return account;
}

/** For pages that need an account: sends a visitor to sign in, and someone signed in with
 * an external identity who has not onboarded yet to /onboarding. */
export async function requireAccount() {
  const account = await setUpPage();
  if (!token() || !account) {
    location.replace(`/auth/login?next=${encodeURIComponent(location.pathname)}`);
    return null;
  }
  if (!account.onboarded) {
    location.replace("/onboarding");
    return null;
  }
  return account;
}

/** Where to go after signing in: `next` when it is a path of this site, else `fallback`. */
export function nextPath(fallback = "/dashboard") {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : fallback;
}
