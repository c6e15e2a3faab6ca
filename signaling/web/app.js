// OpenChat demo web client: joins a voice or video channel over signaling protocol v1
// (docs/protocol.md).
//
// Flow: access token (pasted, or minted by POST /v1/dev/token) -> join ticket -> signaling WebSocket
// -> `join` -> `joined` -> RTCPeerConnection offer/answer with the sfu -> remote audio, each track
// in its own <audio autoplay> element, and remote video, each track in its own tile. In a video
// channel the camera is published as 3 simulcast encodings (q, h, f); each tile reports the size
// it is shown at (`track_settings`), so the server forwards the layer that fits.
//
// Test hook: `window.openchat` ({ state, error, participants, log, stats(), join(opts), leave(),
// setMuted(bool), shareScreen(bool), setTileSize(trackId, width, height), renegotiate(), sdp }),
// and auto-join with `?autojoin=1&user=NAME&server=ID&channel=ID&listen=1&camera=1`.
"use strict";

(() => {
  const PROTOCOL_VERSION = 1;
  /** Longest wait for ICE gathering before the first offer goes out (later candidates trickle). */
  const ICE_GATHERING_TIMEOUT_MS = 3000;
  /** Lines kept in `window.openchat.log`. */
  const LOG_LINES = 200;
  /** The camera's simulcast encodings, low to high (the server orders them by these rids). */
  const CAMERA_ENCODINGS = [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: "f", maxBitrate: 1_500_000 },
  ];

  const $ = (id) => document.getElementById(id);

  /** An error with a stable machine-readable code, shown as "code: message". */
  class ClientError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  /** Page-wide state, read by the UI and by `window.openchat`. */
  const page = {
    state: "idle",
    error: null,
    log: [],
    /** @type {Session | null} */
    session: null,
  };

  function log(...parts) {
    const line = `${new Date().toISOString().slice(11, 23)} ${parts.join(" ")}`;
    page.log.push(line);
    if (page.log.length > LOG_LINES) page.log.shift();
    console.log("[openchat]", ...parts);
  }

  function setState(next) {
    if (page.state === next) return;
    page.state = next;
    log("state", next);
    const el = $("state");
    el.textContent = next;
    el.dataset.state = next;
    const active = ["joining", "negotiating", "connected", "reconnecting"].includes(next);
    for (const input of $("join-form").querySelectorAll("input")) input.disabled = active;
    $("join").disabled = active;
    $("leave").disabled = !active;
    $("mute").disabled = !active || !page.session || !page.session.localStream;
    $("share").disabled = next !== "connected" && !(page.session && page.session.screen);
  }

  function showError(code, message) {
    page.error = { code, message };
    log("error", code, message);
    const el = $("error");
    el.textContent = `${code}: ${message}`;
    el.hidden = false;
  }

  function clearError() {
    page.error = null;
    $("error").hidden = true;
    $("error").textContent = "";
  }

  /** POSTs JSON to this origin; resolves to the JSON body or rejects with the server's error code. */
  async function postJson(path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    } catch (e) {
      throw new ClientError("network_error", `cannot reach ${path}: ${e.message}`);
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const err = payload && typeof payload.error === "object" ? payload.error : {};
      throw new ClientError(
        typeof err.code === "string" ? err.code : `http_${response.status}`,
        typeof err.message === "string" ? err.message : `${path} answered ${response.status}`,
      );
    }
    if (!payload || typeof payload !== "object") {
      throw new ClientError("bad_response", `${path} did not answer a JSON object`);
    }
    return payload;
  }

  /** Resolves once ICE gathering completes, or after `ms` (remaining candidates are trickled). */
  function iceGatheringDone(pc, ms) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") finish();
      };
      const timer = setTimeout(finish, ms);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  /** Builds the signaling WebSocket URL from the ticket's (usually relative) `signaling_url`. */
  function signalingUrl(relative) {
    const url = new URL(typeof relative === "string" ? relative : "/v1/rtc/signaling", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  /** Opens a WebSocket; resolves when open, rejects if it closes first. */
  function openSocket(url) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(new ClientError("network_error", `cannot open ${url}: ${e.message}`));
        return;
      }
      ws.onopen = () => {
        ws.onopen = ws.onclose = null;
        resolve(ws);
      };
      ws.onclose = (ev) => {
        reject(new ClientError("network_error", `signaling socket closed before opening (${ev.code})`));
      };
    });
  }

  /** One join: signaling socket, peer connection, participants and remote audio. */
  class Session {
    constructor(opts) {
      this.opts = opts;
      this.ws = null;
      this.pc = null;
      this.localStream = null;
      this.selfId = null;
      this.participants = new Map(); // participant_id -> {user_id, speaking, muted:Set, tracks:Map}
      this.midOwner = new Map(); // mid -> participant_id (from track_published)
      this.trackMid = new Map(); // track_id -> mid
      this.audio = new Map(); // mid -> <audio>
      this.video = new Map(); // mid -> {tile, el, observer, trackId}
      this.cameraStream = null;
      this.screen = null; // {stream, transceivers} while sharing the screen
      this.queue = Promise.resolve(); // serializes frame handling
      this.pingTimer = null;
      this.pingNonce = 0;
      this.firstOfferSent = false;
      this.reofferNeeded = false;
      this.muted = false;
      this.closed = false;
    }

    async start() {
      const { user, token, server, channel, listenOnly } = this.opts;
      if (!listenOnly) {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
          throw new ClientError(
            "microphone_unavailable",
            "this page cannot use a microphone (it needs https or localhost)",
          );
        }
        try {
          this.localStream = await navigator.mediaDevices.getUserMedia({ audio: true });
        } catch (e) {
          throw new ClientError("microphone_unavailable", `${e.name}: ${e.message}`);
        }
        if (this.closed) {
          // Left while the permission prompt was open.
          for (const track of this.localStream.getTracks()) track.stop();
          return;
        }
      }
      if (this.opts.camera) {
        try {
          this.cameraStream = await navigator.mediaDevices.getUserMedia({
            video: { width: 1280, height: 720 },
          });
        } catch (e) {
          throw new ClientError("camera_unavailable", `${e.name}: ${e.message}`);
        }
        if (this.closed) {
          for (const track of this.cameraStream.getTracks()) track.stop();
          return;
        }
      }
      let accessToken = token;
      if (!accessToken) {
        const minted = await postJson("/v1/dev/token", { user_id: user });
        if (typeof minted.access_token !== "string") {
          throw new ClientError("bad_response", "the dev token answer has no access_token");
        }
        accessToken = minted.access_token;
      }
      const ticket = await postJson(
        `/v1/rtc/channels/${encodeURIComponent(channel)}/join-ticket`,
        server ? { server_id: server } : {},
        accessToken,
      );
      if (typeof ticket.ticket !== "string") {
        throw new ClientError("bad_response", "the join-ticket answer has no ticket");
      }
      if (this.closed) return;
      this.ws = await openSocket(signalingUrl(ticket.signaling_url));
      if (this.closed) {
        this.ws.close(1000);
        return;
      }
      this.ws.onmessage = (ev) => this.enqueue(() => this.onFrame(ev.data));
      this.ws.onclose = (ev) => this.onSocketClosed(ev);
      this.send({ type: "join", protocol: PROTOCOL_VERSION, ticket: ticket.ticket });
    }

    send(frame) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      if (frame.type !== "ping") log("send", frame.type);
      this.ws.send(JSON.stringify(frame));
    }

    /** Runs frame handlers one at a time; any failure ends the session with its error shown. */
    enqueue(task) {
      this.queue = this.queue.then(task).catch((e) => {
        const code = e instanceof ClientError ? e.code : "client_error";
        this.fail(code, e && e.message ? e.message : String(e));
      });
    }

    async onFrame(data) {
      if (this.closed) return;
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        log("ignored a frame that is not JSON");
        return;
      }
      if (!frame || typeof frame !== "object" || typeof frame.type !== "string") {
        log("ignored a frame without a type");
        return;
      }
      if (frame.type !== "pong") log("recv", frame.type, frame.type === "error" ? frame.code : "");
      switch (frame.type) {
        case "joined":
          return this.onJoined(frame);
        case "answer":
          return this.onAnswer(frame.sdp);
        case "offer":
          return this.onServerOffer(frame.sdp);
        case "participant_joined":
          if (frame.participant) this.addParticipant(frame.participant);
          return this.render();
        case "participant_left":
          return this.removeParticipant(frame.participant_id);
        case "track_published":
          return this.onTrackPublished(frame);
        case "track_unpublished":
          return this.onTrackUnpublished(frame);
        case "speaking":
          return this.update(frame.participant_id, (p) => (p.speaking = frame.speaking === true));
        case "muted":
          return this.update(frame.participant_id, (p) => {
            if (frame.muted === true) p.muted.add(frame.source);
            else p.muted.delete(frame.source);
          });
        case "server_muted":
          if (frame.participant_id === this.selfId) {
            log(frame.muted === true ? "a moderator muted you" : "a moderator lifted your mute");
          }
          return this.update(frame.participant_id, (p) => (p.serverMuted = frame.muted === true));
        case "grants_changed":
          return this.onGrantsChanged(frame.grants || {});
        case "publish_layers":
          return this.onPublishLayers(frame);
        case "error":
          return this.onError(frame);
        case "pong":
          this.lastPong = Date.now();
          return;
        case "going_away":
          // The close (1001) follows; say why when it comes.
          this.goingAway = typeof frame.reason === "string" ? frame.reason : "shutdown";
          return;
        default:
          log("ignored unknown frame", frame.type);
      }
    }

    async onJoined(frame) {
      if (this.pc) return; // a second `joined` is a server bug; keep the first
      this.selfId = frame.participant_id;
      const self = frame.self || {};
      const selfUser = self.user_id || this.opts.user;
      this.addParticipant({ participant_id: this.selfId, user_id: selfUser, tracks: [] });
      for (const p of Array.isArray(frame.participants) ? frame.participants : []) this.addParticipant(p);
      this.render();
      const interval = Number(frame.keepalive_interval_ms) > 0 ? Number(frame.keepalive_interval_ms) : 15000;
      this.pingTimer = setInterval(() => this.send({ type: "ping", nonce: ++this.pingNonce }), interval);
      setState("negotiating");
      this.createPeerConnection();
      await this.sendOffer();
    }

    createPeerConnection() {
      const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
      this.pc = pc;
      if (this.localStream) {
        for (const track of this.localStream.getAudioTracks()) pc.addTrack(track, this.localStream);
      } else {
        pc.addTransceiver("audio", { direction: "recvonly" });
      }
      if (this.cameraStream) {
        for (const track of this.cameraStream.getVideoTracks()) {
          const t = pc.addTransceiver(track, {
            direction: "sendonly",
            streams: [this.cameraStream],
            sendEncodings: CAMERA_ENCODINGS,
          });
          t.openchatSource = "camera";
        }
      }
      pc.onicecandidate = (ev) => {
        // Candidates found before the first offer went out are in its SDP; trickle the rest.
        if (!this.firstOfferSent) return;
        const c = ev.candidate;
        this.send({
          type: "candidate",
          candidate: c ? c.candidate : "",
          sdp_mid: c ? c.sdpMid : null,
          sdp_mline_index: c ? c.sdpMLineIndex : null,
        });
      };
      pc.ontrack = (ev) => this.onRemoteTrack(ev);
      pc.onconnectionstatechange = () => {
        if (this.closed) return;
        log("connection", pc.connectionState);
        switch (pc.connectionState) {
          case "connected":
            setState("connected");
            break;
          case "disconnected":
            setState("reconnecting");
            break;
          case "failed":
            this.fail("media_failed", "the media connection (ICE/DTLS) failed");
            break;
        }
      };
    }

    /** Sends an offer with our own tracks (the first one, or again after glare). */
    async sendOffer() {
      const pc = this.pc;
      this.reofferNeeded = false;
      await pc.setLocalDescription(await pc.createOffer());
      if (!this.firstOfferSent) await iceGatheringDone(pc, ICE_GATHERING_TIMEOUT_MS);
      if (this.closed) return;
      const tracks = pc
        .getTransceivers()
        .filter((t) => t.mid !== null && t.sender.track && t.direction !== "inactive")
        .map((t) => ({ mid: t.mid, source: t.openchatSource || "microphone" }));
      this.send({ type: "offer", sdp: pc.localDescription.sdp, tracks });
      this.firstOfferSent = true;
    }

    async onAnswer(sdp) {
      if (!this.pc || typeof sdp !== "string" || this.pc.signalingState !== "have-local-offer") {
        log("ignored an answer while", this.pc ? this.pc.signalingState : "not negotiating");
        return;
      }
      await this.pc.setRemoteDescription({ type: "answer", sdp });
      if (this.reofferNeeded) await this.sendOffer();
    }

    /** Server renegotiation. In glare the server wins: roll ours back (it gets `negotiation_glare`). */
    async onServerOffer(sdp) {
      if (typeof sdp !== "string" || !this.pc) {
        throw new ClientError("protocol_error", "a server offer without sdp, or before joined");
      }
      if (this.pc.signalingState === "have-local-offer") {
        log("glare: rolling back our offer");
        await this.pc.setLocalDescription({ type: "rollback" });
      }
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.send({ type: "answer", sdp: this.pc.localDescription.sdp });
      if (this.reofferNeeded) await this.sendOffer();
    }

    async onError(frame) {
      const code = typeof frame.code === "string" ? frame.code : "unknown_error";
      const message = typeof frame.message === "string" ? frame.message : "";
      if (frame.fatal === true) {
        this.fail(code, message);
        return;
      }
      if (code === "negotiation_glare") {
        log("glare: will offer again after answering the server");
        this.reofferNeeded = true;
        if (this.pc && this.pc.signalingState === "stable") await this.sendOffer();
        return;
      }
      showError(code, message);
    }

    onTrackPublished(frame) {
      if (typeof frame.mid !== "string") return;
      this.midOwner.set(frame.mid, frame.participant_id);
      this.trackMid.set(frame.track_id, frame.mid);
      this.update(frame.participant_id, (p) => p.tracks.set(frame.track_id, frame.source));
      const tile = this.video.get(frame.mid);
      if (tile) {
        tile.trackId = frame.track_id;
        tile.tile.dataset.participant = frame.participant_id;
        this.reportTileSize(frame.mid);
        return;
      }
      const el = this.audio.get(frame.mid);
      if (el) {
        el.dataset.participant = frame.participant_id;
        return;
      }
      // The server handed an idle m-line to this track: no offer and no `track` event follow,
      // the transceiver's receiver plays the new publisher from now on.
      const t = this.pc ? this.pc.getTransceivers().find((x) => x.mid === frame.mid) : null;
      const recv = t && t.currentDirection && t.currentDirection.includes("recv");
      if (recv && t.receiver.track && t.receiver.track.kind === "audio") {
        this.attachAudio(frame.mid, t.receiver.track, frame.participant_id);
      } else if (recv && t.receiver.track && t.receiver.track.kind === "video") {
        this.attachVideo(frame.mid, t.receiver.track, frame.participant_id);
      }
    }

    onTrackUnpublished(frame) {
      const mid = this.trackMid.get(frame.track_id);
      this.trackMid.delete(frame.track_id);
      if (mid !== undefined) {
        this.midOwner.delete(mid);
        this.removeAudio(mid);
        this.removeVideo(mid);
      }
      this.update(frame.participant_id, (p) => p.tracks.delete(frame.track_id));
    }

    onRemoteTrack(ev) {
      const mid = ev.transceiver ? ev.transceiver.mid : null;
      if (mid === null) return;
      const owner = this.midOwner.get(mid) || (ev.streams[0] ? ev.streams[0].id : "");
      if (ev.track.kind === "audio") this.attachAudio(mid, ev.track, owner);
      else if (ev.track.kind === "video") this.attachVideo(mid, ev.track, owner);
    }

    /** The track id announced for m-line `mid` (`track_published`). */
    trackIdOf(mid) {
      for (const [trackId, m] of this.trackMid) if (m === mid) return trackId;
      return null;
    }

    /** Shows the remote video `track` of m-line `mid` in a tile of its own. */
    attachVideo(mid, track, owner) {
      this.removeVideo(mid);
      const tile = document.createElement("figure");
      tile.className = "tile";
      tile.dataset.mid = mid;
      tile.dataset.participant = owner;
      const el = document.createElement("video");
      el.autoplay = true;
      el.playsInline = true;
      el.muted = true; // its sound, if any, is a separate audio track
      el.srcObject = new MediaStream([track]);
      const caption = document.createElement("figcaption");
      const p = this.participants.get(owner);
      caption.textContent = p ? p.user_id : owner;
      tile.append(el, caption);
      $("remote-video").append(tile);
      const entry = { tile, el, observer: null, trackId: this.trackIdOf(mid), sent: "" };
      // The server picks the simulcast layer that fits the size the tile is shown at.
      entry.observer = new ResizeObserver(() => this.reportTileSize(mid));
      entry.observer.observe(el);
      this.video.set(mid, entry);
      track.addEventListener("ended", () => {
        if (this.video.get(mid) === entry) this.removeVideo(mid);
      });
      el.play().catch(() => {});
      log("remote video on mid", mid, "from", owner);
    }

    /** Tells the server the size video tile `mid` is shown at (or that it is hidden). */
    reportTileSize(mid) {
      const entry = this.video.get(mid);
      if (!entry || !entry.trackId) return;
      const width = Math.round(entry.el.clientWidth * (window.devicePixelRatio || 1));
      const height = Math.round(entry.el.clientHeight * (window.devicePixelRatio || 1));
      const frame =
        width > 0 && height > 0
          ? { type: "track_settings", track_id: entry.trackId, width, height }
          : { type: "track_settings", track_id: entry.trackId, paused: true };
      const key = JSON.stringify(frame);
      if (key === entry.sent) return;
      entry.sent = key;
      this.send(frame);
    }

    removeVideo(mid) {
      const entry = this.video.get(mid);
      if (!entry) return;
      entry.observer.disconnect();
      entry.el.srcObject = null;
      entry.tile.remove();
      this.video.delete(mid);
    }

    /** Plays the remote audio `track` of m-line `mid`, from participant `owner`. */
    attachAudio(mid, track, owner) {
      this.removeAudio(mid);
      const el = document.createElement("audio");
      el.autoplay = true;
      el.srcObject = new MediaStream([track]);
      el.dataset.mid = mid;
      el.dataset.participant = owner;
      $("remote-audio").append(el);
      this.audio.set(mid, el);
      track.addEventListener("ended", () => {
        if (this.audio.get(mid) === el) this.removeAudio(mid);
      });
      el.play().catch((e) => showError("autoplay_blocked", `click the page to hear audio (${e.message})`));
      log("remote audio on mid", mid, "from", el.dataset.participant);
    }

    removeAudio(mid) {
      const el = this.audio.get(mid);
      if (!el) return;
      el.srcObject = null;
      el.remove();
      this.audio.delete(mid);
    }

    addParticipant(p) {
      if (!p || typeof p.participant_id !== "string") return;
      const entry = {
        user_id: typeof p.user_id === "string" ? p.user_id : p.participant_id,
        speaking: p.speaking === true,
        muted: new Set(Array.isArray(p.muted) ? p.muted : []),
        serverMuted: p.server_muted === true,
        tracks: new Map(),
      };
      for (const t of Array.isArray(p.tracks) ? p.tracks : []) {
        entry.tracks.set(t.track_id, t.source);
        if (t.muted === true) entry.muted.add(t.source);
      }
      this.participants.set(p.participant_id, entry);
    }

    removeParticipant(id) {
      this.participants.delete(id);
      for (const [mid, owner] of this.midOwner) {
        if (owner === id) {
          this.midOwner.delete(mid);
          this.removeAudio(mid);
          this.removeVideo(mid);
        }
      }
      this.render();
    }

    update(id, change) {
      const p = this.participants.get(id);
      if (!p) return;
      change(p);
      this.render();
    }

    // What this session may publish changed: a source it lost stops sending (the server
    // drops its packets anyway and has ended the track for the others).
    onGrantsChanged(grants) {
      this.grants = grants;
      if (grants.microphone !== true && this.localStream) {
        for (const track of this.localStream.getAudioTracks()) track.enabled = false;
        log("you may no longer use the microphone in this room");
      }
      this.render();
    }

    // Dynacast: send only the camera encodings someone receives (none when nobody does).
    async onPublishLayers(frame) {
      const t = this.pc ? this.pc.getTransceivers().find((x) => x.mid === frame.mid) : null;
      if (!t || !t.sender.track) return;
      const rids = Array.isArray(frame.rids) ? frame.rids : [];
      const params = t.sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) return;
      for (const enc of params.encodings) {
        enc.active = frame.paused !== true && (rids.length === 0 || rids.includes(enc.rid));
      }
      await t.sender.setParameters(params);
      log("publishing", frame.paused === true ? "nothing (nobody watches)" : rids.join(",") || "all");
    }

    /** Shares the screen (with its sound where the browser offers it), or stops sharing. */
    async shareScreen(on) {
      if (!this.pc || this.closed || (on === (this.screen !== null))) return;
      if (on) {
        let stream;
        try {
          stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
        } catch (e) {
          throw new ClientError("screen_unavailable", `${e.name}: ${e.message}`);
        }
        const transceivers = [];
        for (const track of stream.getTracks()) {
          const t = this.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
          t.openchatSource = track.kind === "video" ? "screenshare" : "screenshare_audio";
          transceivers.push(t);
          // The browser's own "stop sharing" ends the track.
          track.addEventListener("ended", () => this.enqueue(() => this.shareScreen(false)));
        }
        this.screen = { stream, transceivers };
        log("sharing the screen");
      } else {
        const { stream, transceivers } = this.screen;
        this.screen = null;
        for (const t of transceivers) {
          t.openchatSource = undefined;
          await t.sender.replaceTrack(null);
          t.direction = "inactive";
        }
        for (const track of stream.getTracks()) track.stop();
        log("stopped sharing the screen");
      }
      $("share").textContent = this.screen ? "Stop sharing" : "Share screen";
      $("share").setAttribute("aria-pressed", String(this.screen !== null));
      if (this.pc.signalingState === "stable") await this.sendOffer();
      else this.reofferNeeded = true;
    }

    setMuted(muted) {
      if (!this.localStream) return;
      this.muted = muted;
      for (const track of this.localStream.getAudioTracks()) track.enabled = !muted;
      this.send({ type: "mute", source: "microphone", muted });
      this.update(this.selfId, (p) => (muted ? p.muted.add("microphone") : p.muted.delete("microphone")));
    }

    render() {
      if (page.session !== this) return;
      const list = $("participants");
      list.replaceChildren();
      for (const [id, p] of this.participants) {
        const li = document.createElement("li");
        li.dataset.participant = id;
        li.classList.toggle("speaking", p.speaking);
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = id === this.selfId ? `${p.user_id} (you)` : p.user_id;
        li.append(name);
        if (p.speaking) li.append(badge("speaking", "speaking"));
        if (p.muted.has("microphone")) li.append(badge("muted", "muted"));
        if (p.serverMuted) li.append(badge("muted by a moderator", "server-muted"));
        list.append(li);
      }
      // The active speaker's video tiles are highlighted too.
      for (const v of this.video.values()) {
        const owner = this.participants.get(v.tile.dataset.participant);
        v.tile.classList.toggle("speaking", !!(owner && owner.speaking));
      }
    }

    onSocketClosed(ev) {
      if (this.closed) return;
      if (this.goingAway) {
        this.fail("going_away", `the server is going away (${this.goingAway}): join again in a moment`);
        return;
      }
      const why = ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`;
      this.fail("connection_closed", `the signaling connection closed (${why})`);
    }

    /** Ends the session showing an error (unless one is already shown for it). */
    fail(code, message) {
      if (this.closed) return;
      showError(code, message);
      this.close();
      if (page.session === this) setState("failed");
    }

    /** Sends `leave` if possible and releases everything. */
    leave() {
      this.send({ type: "leave" });
      this.close();
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      clearInterval(this.pingTimer);
      if (this.ws) {
        this.ws.onmessage = this.ws.onclose = null;
        if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
      }
      if (this.pc) {
        this.pc.ontrack = this.pc.onicecandidate = this.pc.onconnectionstatechange = null;
        this.pc.close();
      }
      if (this.localStream) for (const track of this.localStream.getTracks()) track.stop();
      if (this.cameraStream) for (const track of this.cameraStream.getTracks()) track.stop();
      if (this.screen) for (const track of this.screen.stream.getTracks()) track.stop();
      for (const mid of [...this.audio.keys()]) this.removeAudio(mid);
      for (const mid of [...this.video.keys()]) this.removeVideo(mid);
    }
  }

  function badge(text, cls) {
    const el = document.createElement("span");
    el.className = `badge ${cls}`;
    el.textContent = text;
    return el;
  }

  /** Joins with `opts` ({user, token, server, channel, listenOnly}); leaves any current session. */
  async function join(opts = {}) {
    if (page.session) page.session.leave();
    clearError();
    $("participants").replaceChildren();
    const session = new Session({
      user: opts.user || $("user").value || randomGuest(),
      token: opts.token || "",
      server: opts.server || "srv_harbor",
      channel: opts.channel || "vc_general",
      listenOnly: opts.listenOnly === true,
      camera: opts.camera === true,
    });
    page.session = session;
    setState("joining");
    $("mute").textContent = "Mute";
    $("mute").setAttribute("aria-pressed", "false");
    try {
      await session.start();
    } catch (e) {
      const code = e instanceof ClientError ? e.code : "client_error";
      session.fail(code, e && e.message ? e.message : String(e));
      throw e;
    }
  }

  function leave() {
    const session = page.session;
    if (!session) return;
    session.leave();
    setState("left");
  }

  function toggleMute() {
    const session = page.session;
    if (!session || !session.localStream) return;
    session.setMuted(!session.muted);
    $("mute").textContent = session.muted ? "Unmute" : "Mute";
    $("mute").setAttribute("aria-pressed", String(session.muted));
  }

  /** Audio RTP counters of the current peer connection (zeros before one exists). */
  async function stats() {
    const session = page.session;
    const out = {
      state: page.state,
      error: page.error,
      connectionState: session && session.pc ? session.pc.connectionState : "none",
      participants: session ? session.participants.size : 0,
      audioElements: session ? session.audio.size : 0,
      inboundAudioPackets: 0,
      inboundAudioBytes: 0,
      inboundAudioTracks: 0,
      totalSamplesReceived: 0,
      outboundAudioPackets: 0,
      outboundAudioBytes: 0,
      videoTiles: session ? session.video.size : 0,
      /** Per received video track: {mid, framesDecoded, frameWidth, frameHeight, packetsLost}. */
      inboundVideo: [],
      /** Per sent camera encoding: {rid, active, framesEncoded, frameWidth, bytesSent}. */
      outboundVideo: [],
    };
    if (!session || !session.pc || session.closed) return out;
    const report = await session.pc.getStats();
    report.forEach((s) => {
      if (s.kind === "video" && s.type === "inbound-rtp") {
        out.inboundVideo.push({
          mid: s.mid,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          packetsLost: s.packetsLost || 0,
          keyFramesDecoded: s.keyFramesDecoded || 0,
        });
      } else if (s.kind === "video" && s.type === "outbound-rtp") {
        out.outboundVideo.push({
          rid: s.rid || null,
          active: s.active !== false,
          framesEncoded: s.framesEncoded || 0,
          frameWidth: s.frameWidth || 0,
          bytesSent: s.bytesSent || 0,
        });
      }
      if (s.kind !== "audio") return;
      if (s.type === "inbound-rtp") {
        out.inboundAudioTracks += 1;
        out.inboundAudioPackets += s.packetsReceived || 0;
        out.inboundAudioBytes += s.bytesReceived || 0;
        out.totalSamplesReceived += s.totalSamplesReceived || 0;
      } else if (s.type === "outbound-rtp") {
        out.outboundAudioPackets += s.packetsSent || 0;
        out.outboundAudioBytes += s.bytesSent || 0;
      }
    });
    return out;
  }

  function randomGuest() {
    return `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  }

  function formOptions() {
    return {
      user: $("user").value.trim(),
      token: $("token").value.trim(),
      server: $("server").value.trim(),
      channel: $("channel").value.trim(),
      listenOnly: $("listen-only").checked,
      camera: $("camera").checked,
    };
  }

  function init() {
    const query = new URLSearchParams(location.search);
    $("user").value = query.get("user") || randomGuest();
    if (query.get("server")) $("server").value = query.get("server");
    if (query.get("channel")) $("channel").value = query.get("channel");
    if (query.get("token")) $("token").value = query.get("token");
    $("listen-only").checked = query.get("listen") === "1";
    $("camera").checked = query.get("camera") === "1";
    const swallow = () => {}; // join() already shows its error
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      join(formOptions()).catch(swallow);
    });
    $("leave").addEventListener("click", leave);
    $("mute").addEventListener("click", toggleMute);
    $("share").addEventListener("click", () => {
      const s = page.session;
      if (s) s.enqueue(() => s.shareScreen(s.screen === null));
    });
    window.addEventListener("pagehide", () => page.session && page.session.leave());
    if (query.get("autojoin") === "1") join(formOptions()).catch(swallow);
  }

  window.openchat = {
    get state() {
      return page.state;
    },
    get error() {
      return page.error;
    },
    get participants() {
      const s = page.session;
      if (!s) return [];
      return [...s.participants].map(([id, p]) => ({
        participant_id: id,
        user_id: p.user_id,
        self: id === s.selfId,
        speaking: p.speaking,
        muted: [...p.muted],
        server_muted: p.serverMuted === true,
      }));
    },
    get log() {
      return page.log.slice();
    },
    stats,
    join,
    leave,
    setMuted: (muted) => {
      if (page.session && page.session.muted !== muted) toggleMute();
    },
    /** Shares the screen (`true`) or stops (`false`); resolves when the offer is sent. */
    shareScreen: (on) => {
      const s = page.session;
      if (!s || s.closed) return Promise.resolve(false);
      s.enqueue(() => s.shareScreen(on === true));
      return s.queue.then(() => true);
    },
    /** Shows remote video track `trackId`'s tile at `width` x `height` CSS pixels (0: hidden). */
    setTileSize: (trackId, width, height) => {
      const s = page.session;
      if (!s) return false;
      const mid = s.trackMid.get(trackId);
      const entry = mid === undefined ? null : s.video.get(mid);
      if (!entry) return false;
      entry.el.style.width = `${width}px`;
      entry.el.style.height = `${height}px`;
      entry.tile.hidden = width === 0 || height === 0;
      s.reportTileSize(mid);
      return true;
    },
    /** Remote video tiles: [{mid, trackId, participant, speaking}] (speaking: highlighted). */
    get tiles() {
      const s = page.session;
      if (!s) return [];
      return [...s.video].map(([mid, v]) => ({
        mid,
        trackId: v.trackId,
        participant: v.tile.dataset.participant,
        speaking: v.tile.classList.contains("speaking"),
      }));
    },
    /** Current local and remote SDP (for diagnostics). */
    get sdp() {
      const pc = page.session && page.session.pc;
      return {
        local: pc && pc.localDescription ? pc.localDescription.sdp : null,
        remote: pc && pc.remoteDescription ? pc.remoteDescription.sdp : null,
      };
    },
    /** Sends a fresh offer, as adding a source would (tests use it to provoke glare). */
    renegotiate: () => {
      const s = page.session;
      if (s && s.pc && !s.closed) s.enqueue(() => s.sendOffer());
    },
  };

  init();
})();
