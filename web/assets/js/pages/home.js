// Home: live channels first (thumbnail, title, channel, viewers, category), the
// categories, then every other channel, from the discovery lists.
import { get } from "../api.js";
import { avatar, fill, h, plural } from "../dom.js";
import { setUpPage } from "../layout.js";

setUpPage();
const liveList = document.getElementById("live-list");
const channelList = document.getElementById("channel-list");
const categoryList = document.getElementById("category-list");
const more = document.getElementById("more-channels");
let category = new URLSearchParams(location.search).get("category") || "";
let cursor = null;

function liveTile(channel) {
  const stream = channel.currentStream || {};
  const title = stream.title || channel.name;
  const thumb = stream.thumbnailUrl
    ? h("img", { src: stream.thumbnailUrl, alt: "" })
    : h("span", { "aria-hidden": "true" }, channel.name.slice(0, 1).toUpperCase());
  return h("li", { class: "tile" },
    h("a", { class: "cover", href: `/streams/${encodeURIComponent(channel.slug)}` },
      h("div", { class: "thumb" }, thumb,
        h("span", { class: "badge live" }, "LIVE"),
        h("span", { class: "viewers" }, plural(channel.viewerCount, "viewer"))),
      h("div", { class: "body" },
        h("div", { class: "title" }, title),
        h("div", {}, channel.name),
        h("div", { class: "muted" }, stream.category || channel.category))));
}

function channelTile(channel) {
  return h("li", { class: "tile" },
    h("a", { class: "cover", href: `/streams/${encodeURIComponent(channel.slug)}` },
      h("div", { class: "body creator" },
        avatar(channel.avatar, channel.name),
        h("div", {},
          h("div", { class: "title" }, channel.name),
          h("div", { class: "muted" },
            `${channel.category} · ${plural(channel.followerCount, "follower")}`),
          channel.isLive ? h("span", { class: "badge live" }, "LIVE") : null))));
}

async function loadLive() {
  const page = await get("/api/channels", { query: { live: true, category, limit: 24 } });
  fill(liveList, page.items.length ? page.items.map(liveTile)
    : h("li", { class: "empty" }, category ? `Nobody is live in ${category} right now.` : "Nobody is live right now."));
  liveList.removeAttribute("aria-busy");
}

async function loadChannels(reset = true) {
  if (reset) { cursor = null; channelList.replaceChildren(); }
  const page = await get("/api/channels", { query: { live: false, category, cursor, limit: 24 } });
  if (reset && !page.items.length) channelList.append(h("li", { class: "empty" }, "No other channels yet."));
  channelList.append(...page.items.map(channelTile));
  cursor = page.nextCursor;
  more.hidden = !cursor;
}

async function loadCategories() {
  const page = await get("/api/categories", { query: { limit: 30 } });
  const chip = (name, label) => h("li", {}, h("button", {
    type: "button", "aria-pressed": String(category === name),
    onclick: () => { category = name; history.replaceState(null, "", name ? `/?category=${encodeURIComponent(name)}` : "/"); refresh(); },
  }, label));
  fill(categoryList, chip("", "All"),
    page.items.map((c) => chip(c.name, `${c.name} (${c.liveCount} live)`)));
}

async function refresh() {
  await Promise.all([loadLive(), loadChannels(), loadCategories()]);
}

more.addEventListener("click", () => loadChannels(false));
refresh();
