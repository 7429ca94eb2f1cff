// The chat: the stock socket.io-client against our Socket.IO gateway, as the API documents
// it (README, "Real-time chat"): history on join, live messages, typing, who is here,
// deletions and refusals (`chat:error`) in words. Messages are rendered as text only.
import { io } from "/vendor/socket.io.esm.min.js";
import { ApiError, del, get, post, put, token } from "./api.js";
import { clock, fill, h, plural } from "./dom.js";

export const MAX_LENGTH = 500;

const ERROR_WORDS = {
  rate_limited: "You are sending messages too quickly. Wait a moment and try again.",
  slow_mode: "Slow mode is on: wait a little between messages.",
  banned: "You are banned from this chat.",
  filtered: "Your message contains a word this channel blocks.",
  links_blocked: "Links are not allowed in this chat.",
  followers_only: "Only followers can chat here. Follow the channel to join in.",
  too_long: `Messages can be at most ${MAX_LENGTH} characters.`,
  invalid_content: "That message cannot be sent: it is empty once spaces are removed.",
  stream_offline: "The stream is offline, so its chat is closed.",
  unauthenticated: "Sign in to chat.",
  not_joined: "The chat is still connecting. Try again in a moment.",
  forbidden: "You are not allowed to do that.",
  not_found: "That message or stream no longer exists.",
};
// Refusals whose own message says how long (a timeout's end, slow mode's wait).
const WITH_DETAIL = new Set(["banned", "slow_mode", "rate_limited"]);

/** A `chat:error` in words. */
export function errorWords({ code, message }) {
  const words = ERROR_WORDS[code];
  if (!words) return message || "Something went wrong in the chat.";
  return WITH_DETAIL.has(code) && message ? `${words} (${message})` : words;
}

const BADGE_NAMES = { broadcaster: "Broadcaster", moderator: "Moderator", subscriber: "Subscriber" };

export class Chat {
  /**
   * `els`: the log (a list) and the box it scrolls in, the jump button, form, input, counter, error slot, typing line, user list,
   * user count, the ignored users' box and list, sign-in hint. `hooks.onStatus(stream)`, `hooks.onViewers({count, peak})`.
   */
  constructor(els, { account, channel, hooks = {} }) {
    this.els = els;
    this.account = account;
    this.channel = channel;
    this.hooks = hooks;
    this.streamId = null;
    this.lastId = null;
    this.users = new Map();
    this.typingTimers = new Map();
    this.lastTyping = 0;
    this.ignored = new Map(); // user id -> name, of the users whose messages are hidden
    this.socket = null;
    this.bindForm();
    els.scroll.addEventListener("scroll", () => {
      if (this.atBottom()) els.jump.hidden = true;
    });
    els.jump.addEventListener("click", () => this.scrollToEnd());
  }

  get me() {
    return this.account?.id || null;
  }

  get staff() {
    const id = this.me;
    return !!id && (id === this.channel.creator.id || this.channel.moderatorIds.includes(id));
  }

  connect() {
    if (this.me) this.loadIgnored();
    const auth = token() ? { token: token() } : {};
    const socket = io(location.origin, { auth, transports: ["websocket", "polling"] });
    this.socket = socket;
    socket.on("connect", () => {
      if (this.streamId) this.sendJoin();
    });
    socket.on("connect_error", () => this.system("Reconnecting to the chat…"));
    socket.on("chat:history", (messages) => this.history(messages));
    socket.on("chat:message", (message) => this.add(message));
    socket.on("chat:deleted", ({ messageId }) => this.remove(messageId));
    socket.on("chat:typing", ({ userId }) => this.typing(userId));
    socket.on("chat:users", (page) => this.setUsers(page));
    socket.on("chat:user-joined", (user) => this.userJoined(user));
    socket.on("chat:user-left", (userId) => this.userLeft(userId));
    socket.on("chat:error", (error) => this.showError(errorWords(error)));
    socket.on("stream:status", (stream) => this.hooks.onStatus?.(stream));
    socket.on("stream:viewers", (viewers) => this.hooks.onViewers?.(viewers));
    socket.on("chat:banned", ({ userId, until }) => {
      if (this.staff) this.system(`${this.nameOf(userId)} was ${until ? "timed out" : "banned"}.`);
    });
  }

  /** Joins a stream's room (leaving another), or leaves when `streamId` is null. */
  join(streamId) {
    if (streamId === this.streamId) return;
    if (this.streamId && this.socket) this.socket.emit("chat:leave");
    this.streamId = streamId;
    this.lastId = null;
    this.els.log.replaceChildren();
    this.showError(""); // a refusal in another room (or before the end) is no longer news
    this.setUsers({ items: [], count: 0, anonymous: 0 });
    this.setEnabled(false); // until the join is answered with the history
    if (!streamId) {
      this.system("The chat opens when the stream goes live.");
      return;
    }
    if (this.socket?.connected) this.sendJoin();
  }

  sendJoin() {
    const payload = { streamId: this.streamId };
    if (this.lastId) payload.since = this.lastId; // after a reconnect: only what was missed
    this.socket.emit("chat:join", payload);
  }

  setEnabled(open) {
    const signedIn = !!this.me;
    this.els.input.disabled = !open || !signedIn;
    this.els.send.disabled = !open || !signedIn;
    this.els.signIn.hidden = signedIn;
  }

  // -- messages ------------------------------------------------------------------------

  history(messages) {
    this.setEnabled(true);
    if (!this.lastId) this.els.log.replaceChildren();
    for (const m of messages) this.add(m, { scroll: false });
    this.scrollToEnd();
  }

  atBottom() {
    const box = this.els.scroll;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  scrollToEnd() {
    this.els.scroll.scrollTop = this.els.scroll.scrollHeight;
    this.els.jump.hidden = true;
  }

  add(message, { scroll = true } = {}) {
    if (this.ignored.has(message.user.id)) return;
    if (document.getElementById(`msg-${message.id}`)) return;
    const stick = this.atBottom();
    this.els.log.append(this.render(message));
    this.lastId = message.id;
    this.typingDone(message.user.id);
    if (!scroll) return;
    if (stick) this.scrollToEnd();
    else this.els.jump.hidden = false; // the reader scrolled up: leave them there
  }

  render(message) {
    const author = message.user;
    const name = author.displayName || author.username;
    const badges = (message.badges || []).map((b) =>
      h("span", { class: `badge ${b}`, title: BADGE_NAMES[b] || b }, BADGE_NAMES[b] || b));
    return h("li", { id: `msg-${message.id}`, dataset: { user: author.id, position: message.position } },
      clock(message.createdAt), badges, badges.length ? " " : null,
      h("span", { class: "author" }, name), ": ",
      h("span", { class: "content" }, message.content),
      this.actions(message, name));
  }

  actions(message, name) {
    const user = message.user.id;
    if (!this.me || user === this.me) return null;
    const buttons = [];
    const act = (label, fn) => buttons.push(h("button", {
      type: "button", class: "small", onclick: () => fn().catch((e) => this.showError(
        e instanceof ApiError ? e.problem.detail : String(e))),
    }, label));
    if (this.staff) {
      act("Delete", () => this.deleteMessage(message.id));
      act("Timeout 10 min", () => this.block(user, 600));
      act("Ban", () => this.block(user, null));
      if (this.me === this.channel.creator.id && !this.channel.moderatorIds.includes(user)) {
        act("Make moderator", () => this.grant(user, name));
      }
    }
    act("Ignore", () => this.ignore(user, name));
    act("Report", () => this.report(message.id));
    return h("details", { class: "actions" },
      h("summary", { "aria-label": `Actions for ${name}'s message` }, "⋯"),
      h("span", { class: "row" }, buttons));
  }

  remove(messageId) {
    document.getElementById(`msg-${messageId}`)?.remove();
  }

  async deleteMessage(messageId) {
    const answer = await this.socket.emitWithAck("chat:delete", { messageId });
    if (answer && answer.ok === false) throw new Error(errorWords(answer));
  }

  async block(userId, seconds) {
    const body = { channelId: this.channel.id };
    if (seconds) body.durationSeconds = seconds;
    await post(`/api/users/${encodeURIComponent(userId)}/block`, body);
    this.system(`${this.nameOf(userId)} was ${seconds ? "timed out for 10 minutes" : "banned"}.`);
  }

  async grant(userId, name) {
    await put(`/api/channels/${this.channel.id}/moderators/${encodeURIComponent(userId)}`);
    this.channel.moderatorIds.push(userId);
    this.system(`${name} is now a moderator.`);
  }

  async ignore(userId, name) {
    await post(`/api/users/${encodeURIComponent(userId)}/ignore`);
    this.ignored.set(userId, name);
    for (const li of this.els.log.querySelectorAll("li[data-user]")) {
      if (li.dataset.user === userId) li.remove();
    }
    this.typingDone(userId);
    this.renderIgnored();
    this.system(`You will no longer see messages from ${name}. Viewers lists whom you ignore, to undo it.`);
  }

  /** Shows a user's messages again: live from now on (the gateway stops hiding them), and
   * those of the history the log lacks, put back in their place. */
  async unignore(userId) {
    const name = this.ignored.get(userId) || this.nameOf(userId);
    const change = await del(`/api/users/${encodeURIComponent(userId)}/ignore`);
    this.ignored.delete(userId);
    this.renderIgnored();
    this.system(`You see messages from ${name} again.`);
    if (!this.streamId) return;
    const after = change.position || undefined;
    await get("/api/ignores", { query: { after } }); // the history reads the change
    const page = await get(`/api/streams/${this.streamId}/messages`, { query: { after, limit: 50 } });
    const stick = this.atBottom();
    for (const m of page.items.filter((item) => item.user.id === userId)) this.insert(m);
    if (stick) this.scrollToEnd();
  }

  /** A message from before, put among the others by its position in the log. */
  insert(message) {
    if (document.getElementById(`msg-${message.id}`)) return;
    const later = [...this.els.log.querySelectorAll("li[data-position]")]
      .find((li) => Number(li.dataset.position) > message.position);
    this.els.log.insertBefore(this.render(message), later || null);
  }

  async loadIgnored() {
    const page = await get("/api/ignores").catch(() => ({ items: [] }));
    const names = await Promise.all(page.items.map((id) => get(`/api/users/${encodeURIComponent(id)}`)
      .then((u) => u.displayName || u.username).catch(() => "someone")));
    page.items.forEach((id, i) => this.ignored.set(id, names[i]));
    this.renderIgnored();
  }

  renderIgnored() {
    const items = [...this.ignored].map(([id, name]) => h("li", {}, name, " ",
      h("button", {
        type: "button", class: "small", "aria-label": `Show messages from ${name} again`,
        onclick: () => this.unignore(id).catch((e) => this.showError(
          e instanceof ApiError ? e.problem.detail : String(e))),
      }, "Show again")));
    fill(this.els.ignoredList, items);
    this.els.ignoredBox.hidden = !items.length;
  }

  async report(messageId) {
    await post("/api/reports", { messageId, reason: "Reported from the chat" });
    this.system("Thanks: the channel's moderators will look at your report.");
  }

  system(text) {
    const stick = this.atBottom();
    this.els.log.append(h("li", { class: "system" }, text));
    if (stick) this.scrollToEnd();
  }

  showError(text) {
    this.els.error.textContent = text;
  }

  // -- typing and who is here ----------------------------------------------------------

  nameOf(userId) {
    const user = this.users.get(userId);
    return user ? user.displayName || user.username : "Someone";
  }

  typing(userId) {
    if (userId === this.me || this.ignored.has(userId)) return;
    clearTimeout(this.typingTimers.get(userId));
    this.typingTimers.set(userId, setTimeout(() => this.typingDone(userId), 3000));
    this.renderTyping();
  }

  typingDone(userId) {
    if (!this.typingTimers.has(userId)) return;
    clearTimeout(this.typingTimers.get(userId));
    this.typingTimers.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typingTimers.keys()].map((id) => this.nameOf(id));
    this.els.typing.textContent = !names.length ? "" : names.length === 1
      ? `${names[0]} is typing…` : names.length < 4 ? `${names.join(", ")} are typing…`
        : "Several people are typing…";
  }

  setUsers(page) {
    this.users = new Map(page.items.map((u) => [u.id, u]));
    this.anonymous = page.anonymous || 0;
    this.renderUsers();
  }

  userJoined(user) {
    this.users.set(user.id, user);
    this.renderUsers();
  }

  userLeft(userId) {
    this.users.delete(userId);
    this.renderUsers();
  }

  renderUsers() {
    const items = [...this.users.values()].map((u) => h("li", {},
      (u.badges || []).map((b) => [h("span", { class: `badge ${b}` }, BADGE_NAMES[b] || b), " "]),
      u.displayName || u.username || "someone"));
    fill(this.els.userList, items.length ? items : h("li", { class: "empty" }, "Nobody signed in yet."));
    const guests = this.anonymous ? `, ${plural(this.anonymous, "guest")}` : "";
    this.els.userCount.textContent = `(${this.users.size} signed in${guests})`;
  }

  // -- sending -------------------------------------------------------------------------

  count() {
    const length = [...this.els.input.value.trim()].length;
    const over = length > MAX_LENGTH;
    this.els.counter.textContent = over
      ? `${length} / ${MAX_LENGTH}: ${length - MAX_LENGTH} too many`
      : `${length} / ${MAX_LENGTH}`;
    this.els.counter.classList.toggle("over", over);
    return { length, over };
  }

  bindForm() {
    const { form, input } = this.els;
    input.addEventListener("input", () => {
      this.count();
      this.els.error.textContent = "";
      const now = Date.now();
      if (this.socket && this.streamId && input.value.trim() && now - this.lastTyping > 2000) {
        this.lastTyping = now;
        this.socket.emit("chat:typing");
      }
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const { length, over } = this.count();
      if (!length) return;
      if (over) {
        this.showError(ERROR_WORDS.too_long);
        return;
      }
      this.els.error.textContent = "";
      const answer = await this.socket.timeout(10000).emitWithAck("chat:send", { content: input.value })
        .catch(() => ({ ok: false, code: "timeout", message: "The chat did not answer; try again." }));
      if (answer?.ok) {
        input.value = "";
        this.count();
      } else if (answer?.code === "timeout") {
        this.showError(answer.message);
      } // other refusals arrive as chat:error, shown in words; the text stays to edit
    });
  }
}

/** Removes a message through the API (the dashboard's moderation panel). */
export function deleteMessage(messageId) {
  return del(`/api/messages/${encodeURIComponent(messageId)}`);
}
