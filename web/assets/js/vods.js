// Past streams: a recording that is one MP4 file (nginx-rtmp's whole-stream VOD, joined
// once the stream ended) plays in the page, in a <video> with its controls; anything else
// (an FLV part still waiting to be joined, a provider's playlist) stays a link.
import { h } from "./dom.js";

/** Whether the page plays this past stream's recording itself: an MP4 file. */
export function playable(vod) {
  if (!vod?.vodUrl) return false;
  try {
    return new URL(vod.vodUrl, location.href).pathname.toLowerCase().endsWith(".mp4");
  } catch {
    return false;
  }
}

/** The stream's thumbnail when it has one, else an empty frame of the same size. */
export function thumbnail(vod) {
  return vod.thumbnailUrl
    ? h("img", { class: "vod-thumb", src: vod.thumbnailUrl, alt: "", loading: "lazy" })
    : h("span", { class: "vod-thumb", "aria-hidden": "true" });
}

/**
 * What a past stream offers: a Watch button for an MP4 (`onWatch(vod, button)`), a link to
 * any other recording, or words saying there is none.
 */
export function recordingAction(vod, onWatch) {
  const title = vod.title || "Untitled stream";
  if (playable(vod)) {
    return h("button", {
      type: "button", class: "small primary", "aria-label": `Watch the recording of “${title}”`,
      onclick: (e) => onWatch(vod, e.currentTarget),
    }, "Watch");
  }
  if (vod.vodUrl) return h("a", { href: vod.vodUrl }, "Recording");
  return h("span", { class: "muted" }, "no recording");
}

/**
 * The recordings' player: `box` holds a <video>, a heading for the title, a link to the
 * file and a Close button (see the stream page and the dashboard). Opening one moves the
 * focus to the video; closing it returns the focus to the button that opened it.
 */
export class VodPlayer {
  constructor(box, { onOpen, onClose } = {}) {
    this.box = box;
    this.video = box.querySelector("video");
    this.title = box.querySelector(".vod-title");
    this.file = box.querySelector(".vod-file");
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.opener = null;
    box.querySelector(".vod-close").addEventListener("click", () => this.close());
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  get open() {
    return !this.box.hidden;
  }

  show(vod, opener = null) {
    this.opener = opener;
    this.title.textContent = vod.title || "Untitled stream";
    this.file.href = vod.vodUrl;
    this.video.poster = vod.thumbnailUrl || "";
    this.video.src = vod.vodUrl;
    this.box.dataset.vod = vod.id;
    this.box.hidden = false;
    this.onOpen?.(vod);
    this.video.focus();
    this.video.play().catch(() => {}); // the reader can press play
  }

  close() {
    if (!this.open) return;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.removeAttribute("poster");
    this.video.load();
    this.box.hidden = true;
    delete this.box.dataset.vod;
    this.onClose?.();
    if (this.opener?.isConnected) this.opener.focus();
    this.opener = null;
  }
}
