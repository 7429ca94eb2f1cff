// The creator dashboard, /dashboard: create a channel; the stream key (hidden, shown on
// request, copied, rotated after a confirmation) and the ingest URL; status and viewers;
// go live and end; stream settings; the moderation panel; past streams.
import { ApiError, del, get, post, put } from "../api.js";
import { deleteMessage } from "../chat.js";
import { $, clock, duration, fill, h, plural, when } from "../dom.js";
import { bindForm, notice } from "../forms.js";
import { requireAccount } from "../layout.js";
import { playable, recordingAction, thumbnail, VodPlayer } from "../vods.js";

const CHOSEN_KEY = "aethex.dashboard.channel";
const account = await requireAccount();
let channels = [];
let channel = null;
let key = null;
let keyShown = false;
const names = new Map();

function problemText(e) {
  return e instanceof ApiError ? e.problem.detail : String(e?.message || e);
}

/** Runs an action from a button, its refusal shown in `slot`. */
function action(slot, fn) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    $(slot).textContent = "";
    try {
      await fn(event);
    } catch (e) {
      $(slot).textContent = problemText(e);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

async function nameOf(userId) {
  if (!names.has(userId)) {
    names.set(userId, get(`/api/users/${userId}`).then((u) => u.displayName || u.username)
      .catch(() => "unknown user"));
  }
  return names.get(userId);
}

// -- channels ------------------------------------------------------------------------

async function loadChannels() {
  channels = (await get("/api/auth/channels", { fresh: true })).items;
  if (!channels.length) {
    $("#create-channel").hidden = false;
    $("#dash").hidden = true;
    $("#channel-picker").hidden = true;
    return;
  }
  $("#create-channel").hidden = true;
  $("#dash").hidden = false;
  const chosen = localStorage.getItem(CHOSEN_KEY);
  channel = channels.find((c) => c.id === chosen) || channels[0];
  const select = $("#channel-select");
  fill(select, channels.map((c) => h("option", { value: c.id }, c.name)));
  select.value = channel.id;
  $("#channel-picker").hidden = channels.length < 2;
  await showChannel();
}

$("#channel-select").addEventListener("change", async (e) => {
  localStorage.setItem(CHOSEN_KEY, e.target.value);
  channel = channels.find((c) => c.id === e.target.value);
  key = null;
  await showChannel();
});

const createForm = $("#create-form");
createForm.name.addEventListener("input", () => {
  if (createForm.slug.dataset.edited) return;
  createForm.slug.value = createForm.name.value.toLowerCase().normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-").slice(0, 40).replace(/^-+|-+$/g, "");
});
createForm.slug.addEventListener("input", () => { createForm.slug.dataset.edited = "1"; });
bindForm(createForm, async (values) => {
  const created = await post("/api/channels", {
    name: values.name.trim(), slug: values.slug.trim(), category: values.category.trim() || "just-chatting",
  });
  localStorage.setItem(CHOSEN_KEY, created.id);
  if (account) await loadChannels();
});

async function showChannel() {
  $("#dash-title").textContent = `Dashboard: ${channel.name}`;
  $("#view-page").href = `/streams/${encodeURIComponent(channel.slug)}`;
  showStatus();
  fillSettings();
  await Promise.all([loadKey(), showModeration(), loadVods()]);
}

/** The channel as its page shows it now (polled: see `watch`). */
async function refreshChannel() {
  const fresh = await get(`/api/channels/${encodeURIComponent(channel.slug)}`, { fresh: true });
  const moderatorsBefore = String(channel.moderatorIds);
  const wasLive = channel.isLive ? channel.currentStream?.id : null;
  Object.assign(channel, fresh);
  showStatus();
  if (wasLive && !channel.isLive) watchVods(wasLive); // ended by the encoder or elsewhere
  // Moderators are made from the stream page's chat: the open list follows.
  if (String(channel.moderatorIds) !== moderatorsBefore && !$("#panel-moderators").hidden) {
    await showPanel("#panel-moderators");
  }
}

// -- status, go live, end -------------------------------------------------------------

function showStatus() {
  const stream = channel.isLive ? channel.currentStream : null;
  const line = $("#status-line");
  if (stream) {
    fill(line, h("span", { class: "badge live" }, "LIVE"), " ",
      `${plural(channel.viewerCount || stream.viewerCount || 0, "viewer")} · ${stream.title || "Untitled"}`);
    const ingest = stream.ingest?.state ? `encoder ${stream.ingest.state}` : "no encoder connected yet";
    $("#status-detail").textContent = `Live since ${when(stream.startTime)} · peak ${stream.peakViewers} · ${ingest}`;
  } else {
    line.textContent = "Offline";
    $("#status-detail").textContent = channel.preparedStream
      ? `Ready to go live as “${channel.preparedStream.title}”. Start your encoder or press Go live.`
      : "Start your encoder with the key below, or press Go live.";
  }
  $("#go-live").hidden = !!stream;
  $("#end-stream").hidden = !stream;
  $("#settings-title").disabled = !!stream;
  $("#title-hint").textContent = stream ? "the title of a live stream stays until it ends"
    : "used when you next go live";
}

$("#go-live").addEventListener("click", action("#stream-error", async () => {
  const title = $("#settings-title").value.trim();
  await post(`/api/streams/${channel.id}/start`, title ? { title } : {});
  await refreshChannel();
  await showModeration();
}));

$("#end-stream").addEventListener("click", action("#stream-error", async () => {
  const ended = channel.currentStream.id;
  await post(`/api/streams/${ended}/end`);
  await refreshChannel();
  watchVods(ended);
}));

// Status and viewers are polled from the channel page (cached a second by the API)
// rather than heard in the stream's chat room: a dashboard in the room would count as a
// viewer of its own stream.
setInterval(() => { if (channel) refreshChannel().catch(() => {}); }, 3000);

// -- stream key ------------------------------------------------------------------------

function showKey() {
  for (const id of ["#toggle-key", "#copy-key", "#rotate-key"]) $(id).disabled = !key;
  $("#ingest-url").textContent = key ? key.ingestUrl : "…";
  $("#stream-key").textContent = key && keyShown ? key.streamKey : "••••••••••••••••";
  $("#toggle-key").textContent = keyShown ? "Hide key" : "Show key";
  $("#toggle-key").setAttribute("aria-pressed", String(keyShown));
}

async function loadKey() {
  key = null;
  showKey(); // its buttons wait for it
  key = await get(`/api/channels/${channel.id}/stream-key`);
  keyShown = false;
  showKey();
}

$("#toggle-key").addEventListener("click", () => {
  keyShown = !keyShown;
  showKey();
});

$("#copy-key").addEventListener("click", action("#key-error", async () => {
  await navigator.clipboard.writeText(key.streamKey);
  $("#key-status").textContent = "Stream key copied to the clipboard.";
}));

const dialog = $("#rotate-dialog");
$("#rotate-key").addEventListener("click", () => dialog.showModal());
$("#rotate-cancel").addEventListener("click", () => dialog.close());
$("#rotate-confirm").addEventListener("click", action("#key-error", async () => {
  dialog.close();
  key = await post(`/api/channels/${channel.id}/stream-key/rotate`);
  showKey();
  $("#key-status").textContent = "A new stream key is ready; the old one no longer works.";
  $("#rotate-key").focus();
}));

// -- settings --------------------------------------------------------------------------

const settingsForm = $("#settings-form");

function fillSettings() {
  const stream = channel.currentStream || channel.preparedStream;
  settingsForm.title.value = stream?.title || "";
  settingsForm.description.value = channel.description || "";
  settingsForm.category.value = channel.category || "";
  settingsForm.tags.value = (channel.tags || []).join(", ");
  settingsForm.isPublic.checked = channel.isPublic;
}

bindForm(settingsForm, async (values) => {
  const tags = values.tags.split(",").map((t) => t.trim()).filter(Boolean);
  const updated = await put(`/api/channels/${channel.id}`, {
    description: values.description, category: values.category.trim(), tags, isPublic: values.isPublic,
  });
  Object.assign(channel, updated);
  // Offline, the title (with the description and category) is a prepared stream's, which
  // the next go-live takes, from this page or from the encoder.
  const title = values.title.trim();
  if (!channel.isLive && title && title !== channel.preparedStream?.title) {
    if (channel.preparedStream) await post(`/api/streams/${channel.preparedStream.id}/end`);
    const prepared = await post("/api/streams", {
      channelId: channel.id, title, description: values.description, category: values.category.trim(),
    });
    channel.preparedStream = prepared;
  }
  showStatus();
  notice(settingsForm, "Settings saved.");
});

// -- moderation ------------------------------------------------------------------------

const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(`#${t.getAttribute("aria-controls")}`).hidden = !on;
  }
  // What is new since it was last shown (the filters form keeps what is being typed).
  const id = `#${tab.getAttribute("aria-controls")}`;
  if (PANELS[id]) showPanel(id);
}
tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (e) => {
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    selectTab(next);
    next.focus();
  });
});

function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

const modAction = (label, fn, cls = "small") =>
  h("button", { type: "button", class: cls, onclick: action("#mod-error", async () => { await fn(); await showModeration(); }) }, label);

async function recentMessages() {
  const stream = channel.currentStream || (await lastStream());
  if (!stream) return h("p", { class: "empty" }, "No stream yet: messages appear here once you go live.");
  const page = await get(`/api/streams/${stream.id}/messages`, { query: { includeDeleted: true, limit: 50 } });
  const rows = page.items.map((m) => h("tr", {},
    h("td", {}, clock(m.createdAt)),
    h("td", {}, m.user.displayName || m.user.username),
    h("td", { class: m.deletedAt ? "deleted" : "" }, m.content, m.deletedAt ? " (deleted)" : ""),
    h("td", {}, m.deletedAt || m.user.id === account.id ? null : h("span", { class: "row" },
      modAction("Delete", () => deleteMessage(m.id)),
      modAction("Timeout", () => post(`/api/users/${m.user.id}/block`, { channelId: channel.id, durationSeconds: 600 })),
      modAction("Ban", () => post(`/api/users/${m.user.id}/block`, { channelId: channel.id }))))));
  return table(["Time", "User", "Message", "Actions"], rows, "No messages yet.");
}

async function lastStream() {
  const vods = await get(`/api/channels/${channel.id}/vod`).catch(() => ({ items: [] }));
  return vods.items[0] || null;
}

async function bans() {
  const list = await get(`/api/channels/${channel.id}/bans`);
  const rows = await Promise.all(list.items.map(async (b) => h("tr", {},
    h("td", {}, await nameOf(b.userId)),
    h("td", {}, b.until ? `until ${when(b.until)}` : "banned"),
    h("td", {}, modAction("Lift", () => del(`/api/users/${b.userId}/block`, { query: { channelId: channel.id } }))))));
  return table(["User", "Until", ""], rows, "Nobody is banned or timed out.");
}

async function reports() {
  const page = await get(`/api/channels/${channel.id}/reports`, { query: { status: "open" } });
  const resolve = (r, actionName) => post(`/api/reports/${r.id}/resolve`, { action: actionName });
  const rows = await Promise.all(page.items.map(async (r) => h("tr", {},
    h("td", {}, when(r.createdAt)),
    h("td", {}, await nameOf(r.userId)),
    h("td", {}, r.content || "(the user)", h("div", { class: "muted" }, `Reason: ${r.reason}`)),
    h("td", {}, h("span", { class: "row" },
      modAction("Dismiss", () => resolve(r, "dismiss")),
      r.messageId ? modAction("Delete message", () => resolve(r, "delete_message")) : null,
      modAction("Timeout", () => resolve(r, "timeout")),
      modAction("Ban", () => resolve(r, "ban")))))));
  return table(["Filed", "User", "What", "Actions"], rows, "No open reports.");
}

async function moderators() {
  const rows = await Promise.all(channel.moderatorIds.map(async (id) => h("tr", {},
    h("td", {}, await nameOf(id)),
    h("td", {}, modAction("Remove", async () => {
      await del(`/api/channels/${channel.id}/moderators/${id}`);
      channel.moderatorIds = channel.moderatorIds.filter((m) => m !== id);
    })))));
  return h("div", {}, table(["Moderator", ""], rows, "No moderators yet."),
    h("p", { class: "muted" }, "Make someone a moderator from the actions on one of their chat messages on your stream page."));
}

const filtersForm = $("#filters-form");
async function loadFilters() {
  const f = await get(`/api/channels/${channel.id}/filters`);
  filtersForm.blockedTerms.value = f.blockedTerms.join("\n");
  filtersForm.defaultProfanity.checked = f.defaultProfanity;
  filtersForm.blockLinks.checked = f.blockLinks;
  filtersForm.slowModeSeconds.value = f.slowModeSeconds;
  filtersForm.followersOnly.checked = f.followersOnly;
  filtersForm.followMinAgeSeconds.value = f.followMinAgeSeconds;
  $("#filters-fields").disabled = false; // editable once it holds the channel's filters
}
bindForm(filtersForm, async (v) => {
  await put(`/api/channels/${channel.id}/filters`, {
    blockedTerms: v.blockedTerms.split("\n").map((t) => t.trim()).filter(Boolean),
    defaultProfanity: v.defaultProfanity, blockLinks: v.blockLinks,
    slowModeSeconds: Number(v.slowModeSeconds || 0), followersOnly: v.followersOnly,
    followMinAgeSeconds: Number(v.followMinAgeSeconds || 0),
  });
  notice(filtersForm, "Filters saved.");
});

const PANELS = { "#panel-messages": recentMessages, "#panel-bans": bans,
  "#panel-reports": reports, "#panel-moderators": moderators };

async function showPanel(id) {
  if (!channel) return;
  if (id === "#panel-filters") {
    await loadFilters().catch((e) => { $("#mod-error").textContent = problemText(e); });
    return;
  }
  try {
    fill($(id), await PANELS[id]());
  } catch (e) {
    fill($(id), h("p", { class: "form-error" }, problemText(e)));
  }
}

async function showModeration() {
  await Promise.all(["#panel-filters", ...Object.keys(PANELS)].map(showPanel));
}

// -- past streams ----------------------------------------------------------------------

let vodTimer = null;
const vods = new VodPlayer($("#vod-player"));

async function loadVods() {
  const page = await get(`/api/channels/${channel.id}/vod`, { fresh: true });
  const rows = page.items.map((v) => h("tr", {},
    h("td", {}, h("span", { class: "vod" }, thumbnail(v), h("span", {}, v.title || "Untitled"))),
    h("td", {}, when(v.startTime || v.createdAt)),
    h("td", {}, duration(v.duration)),
    h("td", {}, String(v.peakViewers)),
    h("td", {}, recordingAction(v, (vod, button) => vods.show(vod, button)))));
  fill($("#vod-table"), table(["Title", "Started", "Length", "Peak viewers", "Recording"], rows, "None yet."));
  return page.items;
}

/** After an end, the archive follows within moments, and the whole-stream MP4 once its
 * parts are joined: look again every 2 s until it plays (for a while). */
function watchVods(streamId) {
  clearInterval(vodTimer);
  let tries = 0;
  vodTimer = setInterval(async () => {
    tries += 1;
    const items = await loadVods().catch(() => []);
    if (items.some((v) => v.id === streamId && playable(v)) || tries >= 60) clearInterval(vodTimer);
  }, 2000);
}

if (account) await loadChannels();
