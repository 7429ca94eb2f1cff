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
        // Start on the master playlist's first variant, as Safari does: with a ladder that
        // offers the source, that is the one playable first, while the transcoder is still
        // starting. hls.js's own guess (at most 5 Mbps) would pick a transcoded one and fall
        // back only after failing to load it; its bandwidth measure takes over from the
        // first segment on.
        abrEwmaDefaultEstimateMax: 20e6,
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
      // The playlist may not exist yet (the encoder just started: nginx writes it with the
      // first segment, a second or so after the stream is LIVE) or the network dropped:
      // try again, a little later each time. Until the playlist has loaded once there is
      // nothing for startLoad to resume, and hls.js does not retry a 404 itself: load it
      // again.
      this.retries += 1;
      this.say("Reconnecting to the stream…");
      const delay = Math.min(500 * this.retries, 5000);
      const manifest = [Hls.ErrorDetails.MANIFEST_LOAD_ERROR,
        Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT].includes(data.details);
      setTimeout(() => {
        if (!this.hls) return;
        if (manifest) this.hls.loadSource(this.url);
        else this.hls.startLoad();
      }, delay);
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
    // the self-hosted ingest lists the encoder's own stream as source/<stream id>.m3u8
    if (/\/source\/[^/]+\.m3u8/.test(level.uri || "")) return "Source";
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
