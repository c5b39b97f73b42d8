// Plays an HLS URL in a <video>: hls.js where the browser has MediaSource (Chrome,
// Firefox, Edge, Safari on macOS and iPad), else the browser's own HLS (Safari on iPhone,
// where `canPlayType("application/vnd.apple.mpegurl")` answers), as hls.js advises.

export class Player {
  /**
   * @param {HTMLVideoElement} video
   * @param {{live?: boolean, onError?: (text: string) => void, onFatal?: (info: object) => void}} options
   */
  constructor(video, { live = false, onError = () => {}, onFatal = null } = {}) {
    this.video = video;
    this.live = live;
    this.onError = onError;
    this.onFatal = onFatal;
    this.hls = null;
    this.engine = null;
  }

  static hlsAvailable() {
    return typeof window.Hls !== "undefined" && window.Hls.isSupported();
  }

  load(url, startAt = 0) {
    this.destroy();
    const video = this.video;
    if (Player.hlsAvailable()) {
      this.engine = "hls.js";
      const Hls = window.Hls;
      const retry = { maxNumRetry: 30, retryDelayMs: 1000, maxRetryDelayMs: 2000 };
      const hls = new Hls({
        startPosition: startAt > 0 ? startAt : -1,
        // The live origin answers 503 (Retry-After: 1) until the camera's first segment:
        // keep asking rather than giving up after hls.js's default single retry.
        manifestLoadPolicy: {
          default: {
            maxTimeToFirstByteMs: Infinity,
            maxLoadTimeMs: 20000,
            timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
            errorRetry: this.live ? retry : { maxNumRetry: 2, retryDelayMs: 1000, maxRetryDelayMs: 4000 },
          },
        },
      });
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        video.play().catch(() => {});
      });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) {
          return;
        }
        const status = data.response ? data.response.code : 0;
        const info = { type: data.type, details: data.details, status };
        if (this.onFatal) {
          this.onFatal(info);
        } else {
          this.onError(`the video could not be played (${data.details}${status ? `, HTTP ${status}` : ""})`);
        }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      this.engine = "native";
      video.addEventListener(
        "error",
        () => this.engine === "native" && video.error && this.onError(`the video could not be played (${video.error.message || video.error.code})`),
        { once: true },
      );
      video.src = url;
      if (startAt > 0) {
        video.addEventListener("loadedmetadata", () => (video.currentTime = startAt), { once: true });
      }
      video.play().catch(() => {});
    } else {
      this.onError("this browser cannot play HLS video");
    }
  }

  destroy() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (this.engine !== null) {
      // Let go of the stream (and of the MediaSource hls.js made), so nothing loads on.
      this.video.removeAttribute("src");
      this.video.load();
    }
    this.engine = null;
  }
}
