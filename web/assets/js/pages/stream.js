// The stream page, /streams/{channelSlug}: the player and the chat side by side (the chat
// in a drawer on small screens), live viewer count, stream info, the creator's card with
// follow and social links, sharing, and past streams when offline.
import { ApiError, del, get, post } from "../api.js";
import { Chat } from "../chat.js";
import { $, avatar, duration, fill, h, plural, when } from "../dom.js";
import { setUpPage } from "../layout.js";
import { Player } from "../player.js";
import { playable, recordingAction, thumbnail, VodPlayer } from "../vods.js";

const slug = decodeURIComponent(location.pathname.split("/")[2] || "");
const account = await setUpPage();

let channel;
try {
  channel = await get(`/api/channels/${encodeURIComponent(slug)}`);
} catch (e) {
  fill($("#main"), h("div", { class: "card narrow" },
    h("h1", {}, e.status === 404 ? "No such channel" : "This channel could not be loaded"),
    h("p", {}, e.status === 404 ? `There is no channel called “${slug}”.` : e.message),
    h("p", {}, h("a", { href: "/" }, "See who is live"))));
  throw e;
}
document.title = `${channel.name} · AeThex Live`;

const player = new Player({
  video: $("#video"), quality: $("#quality"), fullscreen: $("#fullscreen"),
  status: $("#player-status"), frame: $("#player"),
});
const chat = new Chat({
  log: $("#chat-log"), scroll: $("#chat-scroll"), jump: $("#jump"), form: $("#chat-form"), input: $("#chat-input"),
  send: $("#chat-send"), counter: $("#chat-counter"), error: $("#chat-error"),
  typing: $("#typing"), userList: $("#user-list"), userCount: $("#users-count"),
  ignoredBox: $("#ignored-box"), ignoredList: $("#ignored-list"), signIn: $("#chat-signin"),
}, { account, channel, hooks: { onStatus: (s) => onStatus(s), onViewers: (v) => showViewers(v.count) } });

let current = null; // the stream shown (live), or null
let vodWatch = null;
// A past stream's recording plays where the live video would, in place of the offline box.
const vods = new VodPlayer($("#vod-player"), {
  onOpen: () => { $("#offline").hidden = true; },
  onClose: () => { $("#offline").hidden = !!current; },
});

function showViewers(count) {
  $("#viewer-count").textContent = plural(count, "viewer");
}

function showInfo(stream) {
  $("#stream-title").textContent = stream?.title || channel.name;
  const category = stream?.category || channel.category;
  const bits = [channel.name, category, ...(channel.tags || []).map((t) => `#${t}`)];
  if (stream?.startTime && stream.status === "LIVE") bits.push(`live since ${when(stream.startTime)}`);
  $("#stream-meta").textContent = bits.filter(Boolean).join(" · ");
  $("#stream-description").textContent = stream?.description || channel.description || "";
}

function goLive(stream) {
  current = stream;
  vods.close();
  $("#offline").hidden = true;
  $("#player").hidden = false;
  showInfo(stream);
  showViewers(stream.viewerCount || 0);
  player.play(stream.hlsUrl);
  chat.join(stream.id);
}

function goOffline(text) {
  current = null;
  player.stop();
  $("#player").hidden = true;
  $("#offline").hidden = vods.open;
  $("#offline-text").textContent = text;
  showInfo(channel.preparedStream);
  chat.join(null);
}

function onStatus(stream) {
  if (!current || stream.id !== current.id) return;
  if (stream.status === "LIVE") {
    current = stream;
    showInfo(stream);
    if (stream.hlsUrl) player.play(stream.hlsUrl);
  } else if (stream.status === "ENDING" || stream.status === "ARCHIVED") {
    const ended = stream.id;
    goOffline("The stream has ended. Thanks for watching!");
    watchVods(ended);
  }
}

// -- past streams ----------------------------------------------------------------------

async function loadVods() {
  const page = await get(`/api/channels/${channel.id}/vod`, { fresh: true });
  const list = $("#vod-list");
  if (!page.items.length) {
    fill(list, h("li", { class: "empty" }, "No past streams yet."));
    return page.items;
  }
  fill(list, page.items.map((v) => h("li", { id: `vod-${v.id}`, class: "vod" },
    thumbnail(v),
    h("div", { class: "vod-body" },
      h("strong", {}, v.title || "Untitled stream"),
      h("div", { class: "muted" }, `${when(v.startTime || v.createdAt)} · ${duration(v.duration)}`)),
    recordingAction(v, (vod, button) => vods.show(vod, button)))));
  return page.items;
}

/** After a stream ends, its recording is listed once it is archived, and plays here once
 * its parts are joined into one MP4: look again every 2 s until then (for a while). */
function watchVods(streamId) {
  clearInterval(vodWatch);
  let tries = 0;
  const look = async () => {
    tries += 1;
    const items = await loadVods().catch(() => []);
    if (items.some((v) => v.id === streamId && playable(v)) || tries > 60) clearInterval(vodWatch);
  };
  look();
  vodWatch = setInterval(look, 2000);
}

// -- creator card ----------------------------------------------------------------------

async function showCreator() {
  const creator = channel.creator;
  $("#creator-name").textContent = creator.displayName || creator.username || channel.name;
  $("#follower-count").textContent = plural(channel.followerCount, "follower");
  const profile = await get(`/api/users/${creator.id}`).catch(() => null);
  if (profile) {
    $("#creator-avatar").replaceWith(avatar(profile.avatar || channel.avatar, profile.displayName));
    $("#creator-bio").textContent = profile.bio || "";
    fill($("#socials"), Object.entries(profile.socialLinks || {}).map(([network, url]) =>
      h("li", {}, h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" },
        network[0].toUpperCase() + network.slice(1)))));
  }
  const button = $("#follow");
  if (account && account.id === creator.id) return; // no following oneself
  let following = false;
  const render = () => {
    button.textContent = following ? "Following" : "Follow";
    button.setAttribute("aria-pressed", String(following));
    button.classList.toggle("primary", !following);
  };
  if (account) {
    following = (await get(`/api/channels/${channel.id}/follow`).catch(() => ({ following: false }))).following;
  }
  render();
  button.addEventListener("click", async () => {
    if (!account) {
      location.assign(`/auth/login?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    button.disabled = true;
    $("#follow-error").textContent = "";
    try {
      const answer = following ? await del(`/api/channels/${channel.id}/follow`)
        : await post(`/api/channels/${channel.id}/follow`);
      if (answer.position) channel.followerCount += answer.following ? 1 : -1;
      following = answer.following;
      $("#follower-count").textContent = plural(channel.followerCount, "follower");
      render();
    } catch (e) {
      $("#follow-error").textContent = e instanceof ApiError ? e.problem.detail : String(e);
    } finally {
      button.disabled = false;
    }
  });
  button.hidden = false; // once it knows the state and answers clicks
}

// -- share, drawer, viewers ------------------------------------------------------------

$("#share").addEventListener("click", async () => {
  const data = { title: document.title, url: location.href };
  try {
    if (navigator.share) await navigator.share(data);
    else {
      await navigator.clipboard.writeText(location.href);
      $("#share-status").textContent = "Link copied to the clipboard.";
    }
  } catch {
    $("#share-status").textContent = `Share this link: ${location.href}`;
  }
});

function setDrawer(open) {
  $("#chat").dataset.open = String(open);
  $("#chat-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("#chat-input").focus();
  else $("#chat-toggle").focus();
}
$("#chat-toggle").addEventListener("click", () => setDrawer($("#chat").dataset.open !== "true"));
$("#chat-close").addEventListener("click", () => setDrawer(false));
$("#chat").addEventListener("keydown", (e) => {
  if (e.key === "Escape" && matchMedia("(max-width: 900px)").matches) setDrawer(false);
});
$("#users-toggle").addEventListener("click", () => {
  const box = $("#users");
  box.hidden = !box.hidden;
  $("#users-toggle").setAttribute("aria-expanded", String(!box.hidden));
});

// -- start -----------------------------------------------------------------------------

chat.connect();
showCreator();
loadVods();
if (channel.isLive && channel.currentStream) goLive(channel.currentStream);
else goOffline("This channel is not live right now. Its past streams are below.");

// While offline, look for the channel going live now and then (an encoder may start at
// any moment; the page has no room to hear it in until then).
setInterval(async () => {
  if (current) return;
  const page = await get(`/api/channels/${encodeURIComponent(slug)}`).catch(() => null);
  if (page?.isLive && page.currentStream) {
    channel = Object.assign(channel, page);
    goLive(page.currentStream);
  }
}, 5000);
