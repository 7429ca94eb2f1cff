// The HLS player: hls.js (from our own origin, its worker too) with adaptive bitrate, a
// quality selector, recovery from network and media errors, fullscreen, and keys
// (k or space: play/pause, m: mute, f: fullscreen) on top of the video's own controls.
import Hls from "/vendor/hls.mjs";

export class Player {
  constructor({ video, quality, fullscreen, status, frame }) {
    this.video = video;
    this.quality = quality;
    this.status = status;
    this.frame = frame;
    this.hls = null;
    this.url = null;
    this.retries = 0;
    fullscreen.addEventListener("click", () => this.toggleFullscreen());
    quality.addEventListener("change", () => {
      if (this.hls) this.hls.currentLevel = Number(quality.value);
    });
    frame.addEventListener("keydown", (e) => this.onKey(e));
  }

  say(text) {
    this.status.textContent = text;
  }

  play(url) {
    if (url === this.url && this.hls) return;
    this.stop();
    this.url = url;
    if (!url) {
      this.say("Waiting for the broadcaster's video…");
      return;
    }
    if (Hls.isSupported()) {
      const hls = new Hls({
        workerPath: "/vendor/hls.worker.js",
        lowLatencyMode: true,
        liveSyncDurationCount: 2,
        manifestLoadingMaxRetry: 6,
        levelLoadingMaxRetry: 6,
        fragLoadingMaxRetry: 6,
      });
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
        this.retries = 0;
        this.fillQualities(data.levels);
        this.say("");
        this.video.play().catch(() => this.say("Press play to start the video."));
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
        const level = hls.levels[data.level];
        if (level && hls.autoLevelEnabled) this.say(`Auto: ${this.levelName(level)}`);
      });
      hls.on(Hls.Events.ERROR, (_, data) => this.onError(data));
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = url; // Safari plays HLS itself
      this.video.play().catch(() => {});
    } else {
      this.say("This browser cannot play live video.");
    }
  }

  onError(data) {
    if (!data.fatal || !this.hls) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      // The playlist may not exist yet (the encoder just started) or the network dropped:
      // try again, a little later each time.
      this.retries += 1;
      this.say("Reconnecting to the stream…");
      const delay = Math.min(1000 * this.retries, 5000);
      setTimeout(() => this.hls && this.hls.startLoad(), delay);
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      this.say("Recovering playback…");
      this.hls.recoverMediaError();
    } else {
      const url = this.url;
      this.stop();
      this.say("Playback failed; retrying…");
      setTimeout(() => this.play(url), 2000);
    }
  }

  levelName(level) {
    if (level.height) return `${level.height}p`;
    return level.bitrate ? `${Math.round(level.bitrate / 1000)} kbps` : "Source";
  }

  fillQualities(levels) {
    const options = [new Option("Auto", "-1")];
    levels.forEach((level, i) => options.push(new Option(this.levelName(level), String(i))));
    this.quality.replaceChildren(...options);
    this.quality.value = "-1";
    this.quality.disabled = levels.length < 2;
  }

  stop() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.url = null;
    this.video.removeAttribute("src");
    this.video.load();
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else this.frame.requestFullscreen?.().catch(() => this.video.requestFullscreen?.());
  }

  onKey(e) {
    if (e.target.closest("select, button, input, textarea")) return;
    if (e.key === "k" || e.key === " ") {
      e.preventDefault();
      if (this.video.paused) this.video.play().catch(() => {});
      else this.video.pause();
    } else if (e.key === "m") {
      this.video.muted = !this.video.muted;
    } else if (e.key === "f") {
      this.toggleFullscreen();
    }
  }
}
