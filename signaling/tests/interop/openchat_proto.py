"""What every interop client shares, written from docs/protocol.md (the contract) alone.

HTTP: a development token (`POST /v1/dev/token`) and a join ticket
(`POST /v1/rtc/channels/{channel_id}/join-ticket`). WebSocket: `join`, the roster
(`participant_joined`, `track_published`, ...), keepalive pings, and offer/answer relayed to the
client's WebRTC stack through two callbacks. Received audio is written per remote participant to
`<dir>/<user_id>.wav` (48 kHz mono 16-bit); the run ends with a JSON summary on stdout, which lists
the size of every SDP seen. Progress goes to stderr as JSON lines (`{"event": ...}`). SIGINT or SIGTERM
make the client leave and print its summary.

No third-party dependency other than `websockets`, so that a client on any WebRTC stack can use it.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import wave

import websockets

SAMPLE_RATE = 48000


def base_args(description):
    """The flags every client takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend-url", required=True, help="http://host:port of openchatd")
    p.add_argument("--channel-id", default="vc_general")
    p.add_argument("--server-id", default="srv_harbor")
    p.add_argument("--user", required=True, help="user id for a development token")
    p.add_argument("--tone-hz", type=float, help="publish a sine tone (default: only listen)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to stay after joining")
    p.add_argument("--write-received-dir", help="record remote audio as <dir>/<user_id>.wav")
    p.add_argument("--connect-timeout", type=float, default=20.0,
                   help="give up if media is not connected after this many seconds")
    p.add_argument("--log-sdp", action="store_true",
                   help="put the text of every SDP in its `sdp` progress line")
    return p


def log(event, **fields):
    """One progress line on stderr."""
    fields["event"] = event
    fields["t"] = round(time.monotonic(), 3)
    print(json.dumps(fields), file=sys.stderr, flush=True)


class ProtocolError(Exception):
    """An HTTP error body or a fatal `error` frame: `code` is the protocol's stable code."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


def http_json(url, body, token=None):
    """POSTs JSON, returns the decoded body; raises ProtocolError with the error code."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            err = json.loads(e.read())["error"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError("http_" + str(e.code), str(e)) from e
        raise ProtocolError(err.get("code", "?"), err.get("message", "")) from e


def join_ticket(args):
    """Development token, then a join ticket; returns the ticket response."""
    base = args.backend_url.rstrip("/")
    token = http_json(base + "/v1/dev/token", {"user_id": args.user})["access_token"]
    channel = urllib.parse.quote(args.channel_id, safe="")
    return http_json(f"{base}/v1/rtc/channels/{channel}/join-ticket",
                     {"server_id": args.server_id}, token)


def websocket_url(backend_url, signaling_url):
    """`signaling_url` may be relative to the backend: resolve it, then http(s) -> ws(s)."""
    url = urllib.parse.urljoin(backend_url.rstrip("/") + "/", signaling_url)
    parts = urllib.parse.urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urllib.parse.urlunsplit((scheme, *parts[1:]))


def m_lines(sdp):
    return sum(1 for line in sdp.splitlines() if line.startswith("m="))


def sending_mids(sdp):
    """(kind, mid) of each m-line of `sdp` that sends (sendrecv or sendonly), for `tracks`."""
    out, kind, mid, sends = [], None, None, True
    for line in sdp.splitlines() + ["m=end"]:
        if line.startswith("m="):
            if kind is not None and mid is not None and sends:
                out.append((kind, mid))
            kind, mid, sends = line[2:].split(" ", 1)[0], None, True  # sendrecv is the default
        elif line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.strip() in ("a=recvonly", "a=inactive"):
            sends = False
    return out


class Recorders:
    """Per remote participant WAV files, fed from any thread (GStreamer calls from its own)."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.files = {}  # user_id -> (wave writer, frames written, participant_id, mid)
        if directory:
            os.makedirs(directory, exist_ok=True)

    def write(self, user_id, participant_id, mid, pcm):
        """Appends 48 kHz mono s16le `pcm` to `user_id`'s file; returns True for its first audio."""
        with self.lock:
            entry = self.files.get(user_id)
            first = entry is None
            if first:
                writer = None
                if self.directory:
                    writer = wave.open(os.path.join(self.directory, user_id + ".wav"), "wb")
                    writer.setnchannels(1)
                    writer.setsampwidth(2)
                    writer.setframerate(SAMPLE_RATE)
                entry = [writer, 0, participant_id, mid]
                self.files[user_id] = entry
            if entry[0] is not None:
                entry[0].writeframesraw(pcm)
            entry[1] += len(pcm) // 2
            return first

    def close(self):
        """Closes every file; returns the `received` part of the summary."""
        out = []
        with self.lock:
            for user_id, (writer, frames, participant_id, mid) in sorted(self.files.items()):
                if writer is not None:
                    writer.close()
                out.append({
                    "user_id": user_id,
                    "participant_id": participant_id,
                    "first_mid": mid,
                    "seconds": round(frames / SAMPLE_RATE, 3),
                    "wav": os.path.join(self.directory, user_id + ".wav") if self.directory else None,
                })
        return out


class Session:
    """One signaling session. The client supplies two coroutines:

    `make_offer() -> (sdp, tracks)` for the first offer, `apply_answer(sdp)` for the server's answer,
    and `answer_offer(sdp) -> sdp` for every server offer (renegotiation).
    """

    def __init__(self, args, client):
        self.args = args
        self.client = client
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.users = {}  # participant_id -> user_id
        self.mid_owner = {}  # mid -> (participant_id, track_id) of the remote track on it
        self.tracks_published = 0  # `track_published` frames seen so far
        self.publishers_seen = set()  # participant ids that ever published to us
        self.sdps = []
        self.server_errors = []
        self.client_errors = []
        self.recorders = Recorders(args.write_received_dir)
        self.participant_id = None
        self.media_connected_at = None
        self.stop_reason = None
        self.ws = None
        self.answer_waiter = None
        self.stopped = asyncio.Event()

    # ---- used by the WebRTC side -------------------------------------------------------------
    def audio(self, mid, pcm):
        """Decoded audio (48 kHz mono s16le) arrived on `mid`: file it under the track's owner."""
        with self.lock:
            owner = self.mid_owner.get(mid)
            user = self.users.get(owner[0]) if owner else None
        if owner is None:
            return  # between tracks on a recycled m-line
        user = user or owner[0]
        if self.recorders.write(user, owner[0], mid, pcm):
            log("first_audio", user_id=user, participant_id=owner[0], mid=mid)

    def media_connected(self):
        if self.media_connected_at is None:
            self.media_connected_at = time.monotonic()
            log("media_connected", after_ms=round((self.media_connected_at - self.started) * 1000))

    def client_error(self, what):
        """The client's WebRTC stack failed at something; the traceback, if any, goes to the log."""
        self.client_errors.append(what)
        trace = traceback.format_exc()
        log("client_error", message=what,
            traceback=None if trace.startswith("NoneType: None") else trace)

    # ---- the session ---------------------------------------------------------------------------
    def record_sdp(self, direction, kind, sdp):
        entry = {
            "direction": direction,
            "type": kind,
            "bytes": len(sdp.encode()),
            "m_lines": m_lines(sdp),
            "tracks_published_before": self.tracks_published,
            "publishers_before": len(self.publishers_seen),
        }
        self.sdps.append(entry)
        if self.args.log_sdp:
            log("sdp", text=sdp, **entry)
        else:
            log("sdp", **entry)

    async def send(self, frame):
        await self.ws.send(json.dumps(frame))

    async def run(self):
        """Joins, negotiates and stays until the duration, SIGINT/SIGTERM or a fatal error."""
        ticket = await asyncio.get_running_loop().run_in_executor(None, join_ticket, self.args)
        url = websocket_url(self.args.backend_url, ticket["signaling_url"])
        async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
            self.ws = ws
            await self.send({"type": "join", "protocol": 1, "ticket": ticket["ticket"]})
            reader = asyncio.create_task(self.read_frames())
            try:
                await self.until_stop()
            finally:
                reader.cancel()
                try:
                    await self.send({"type": "leave"})
                except websockets.ConnectionClosed:
                    pass

    async def until_stop(self):
        deadline = None
        connect_deadline = time.monotonic() + self.args.connect_timeout
        while not self.stopped.is_set():
            now = time.monotonic()
            if deadline is None and self.participant_id is not None:
                deadline = now + self.args.duration
            if deadline is not None and now >= deadline:
                self.stop_reason = "duration"
                break
            if self.media_connected_at is None and now >= connect_deadline:
                self.stop_reason = "connect_timeout"
                break
            try:
                await asyncio.wait_for(self.stopped.wait(), 0.1)
            except asyncio.TimeoutError:
                pass

    async def keepalive(self, interval_ms):
        nonce = 0
        while True:
            await asyncio.sleep(max(interval_ms, 1000) / 1000.0)
            nonce += 1
            await self.send({"type": "ping", "nonce": nonce})

    async def read_frames(self):
        pinger = None
        try:
            async for text in self.ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "joined":
                    self.participant_id = frame["participant_id"]
                    with self.lock:
                        for p in frame.get("participants", []):
                            self.users[p["participant_id"]] = p["user_id"]
                    log("joined", participant_id=self.participant_id,
                        participants=len(frame.get("participants", [])))
                    pinger = asyncio.create_task(
                        self.keepalive(frame.get("keepalive_interval_ms", 10000)))
                    sdp, tracks = await self.client.make_offer()
                    self.record_sdp("sent", "offer", sdp)
                    await self.send({"type": "offer", "sdp": sdp, "tracks": tracks})
                elif kind == "answer":
                    self.record_sdp("received", "answer", frame["sdp"])
                    try:
                        await self.client.apply_answer(frame["sdp"])
                    except Exception as e:  # the stack refused the answer
                        self.client_error(f"applying the server's answer: {e!r}")
                elif kind == "offer":
                    self.record_sdp("received", "offer", frame["sdp"])
                    try:
                        answer = await self.client.answer_offer(frame["sdp"])
                    except Exception as e:
                        self.client_error(f"answering a server offer: {e!r}")
                        continue
                    self.record_sdp("sent", "answer", answer)
                    await self.send({"type": "answer", "sdp": answer})
                elif kind == "participant_joined":
                    p = frame["participant"]
                    with self.lock:
                        self.users[p["participant_id"]] = p["user_id"]
                elif kind == "track_published":
                    with self.lock:
                        self.mid_owner[frame["mid"]] = (frame["participant_id"], frame["track_id"])
                        self.tracks_published += 1
                        self.publishers_seen.add(frame["participant_id"])
                elif kind == "track_unpublished":
                    with self.lock:
                        for mid, owner in list(self.mid_owner.items()):
                            if owner == (frame["participant_id"], frame["track_id"]):
                                del self.mid_owner[mid]
                elif kind == "error":
                    self.server_errors.append(f'{frame.get("code")}: {frame.get("message")}')
                    log("server_error", code=frame.get("code"), message=frame.get("message"),
                        fatal=frame.get("fatal"))
                    if frame.get("fatal"):
                        self.stop_reason = "fatal:" + str(frame.get("code"))
                        self.stopped.set()
                        return
        except websockets.ConnectionClosed:
            pass
        finally:
            if pinger:
                pinger.cancel()
        if self.stop_reason is None:
            self.stop_reason = "socket_closed"
        self.stopped.set()

    def summary(self, client_name, extra):
        sizes = [s["bytes"] for s in self.sdps]
        out = {
            "client": client_name,
            "user_id": self.args.user,
            "participant_id": self.participant_id,
            "stop_reason": self.stop_reason,
            "media_connected": self.media_connected_at is not None,
            "connect_ms": None if self.media_connected_at is None else
            round((self.media_connected_at - self.started) * 1000),
            "tone_hz": self.args.tone_hz,
            "received": self.recorders.close(),
            "tracks_published_seen": self.tracks_published,
            "max_sdp_bytes": max(sizes) if sizes else 0,
            "sdps": self.sdps,
            "server_errors": self.server_errors,
            "client_errors": self.client_errors,
        }
        out.update(extra)
        return out


async def run_client(args, client, client_name, extra_summary=lambda: {}):
    """Runs the session, closes the client, prints the summary; returns the exit status."""
    session = Session(args, client)
    client.session = session

    def interrupted():
        session.stop_reason = "interrupted"
        session.stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, interrupted)
    status = 0
    try:
        await session.run()
    except ProtocolError as e:
        session.stop_reason = "error:" + e.code
        status = 1
    except (OSError, websockets.WebSocketException) as e:
        session.stop_reason = f"error: {e!r}"
        status = 1
    finally:
        try:
            await client.close()
        except Exception as e:
            session.client_error(f"closing: {e!r}")
    if session.stop_reason in ("connect_timeout", "socket_closed") or (
            session.stop_reason or "").startswith("fatal:"):
        status = 1
    print(json.dumps(session.summary(client_name, extra_summary()), indent=1), flush=True)
    return status
