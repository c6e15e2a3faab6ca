#!/usr/bin/env python3
"""An OpenChat RTC client on aiortc, written from docs/protocol.md.

Joins a room, publishes a sine tone (`--tone-hz`) or only listens, optionally offers a video track
too (`--offer-video`, which a voice room refuses), answers every server offer, records remote audio
per participant and prints a JSON summary. Run `--help` for the flags.
"""

import array
import asyncio
import fractions
import math
import sys

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

import openchat_proto as proto

# The sfu lives on loopback in the tests, and aioice never gathers 127.0.0.1 on its own.
_host_addresses = aioice.ice.get_host_addresses


def _loopback_first(use_ipv4, use_ipv6):
    return ["127.0.0.1"] if use_ipv4 else _host_addresses(use_ipv4, use_ipv6)


aioice.ice.get_host_addresses = _loopback_first

FRAME_SAMPLES = 960  # 20 ms at 48 kHz


class ToneTrack(MediaStreamTrack):
    """A live 48 kHz mono sine tone, paced in real time."""

    kind = "audio"

    def __init__(self, hz):
        super().__init__()
        self.hz = hz
        self.pts = 0
        self.start = None

    async def recv(self):
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        due = self.start + self.pts / proto.SAMPLE_RATE
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        step = 2 * math.pi * self.hz / proto.SAMPLE_RATE
        pcm = array.array("h", (int(9830 * math.sin(step * n))
                                for n in range(self.pts, self.pts + FRAME_SAMPLES)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = proto.SAMPLE_RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, proto.SAMPLE_RATE)
        self.pts += FRAME_SAMPLES
        return frame


class AiortcClient:
    def __init__(self, args):
        self.args = args
        self.session = None
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.readers = []
        self.pc.on("connectionstatechange", self.on_state)
        self.pc.on("track", self.on_track)

    def on_state(self):
        proto.log("connection_state", state=self.pc.connectionState)
        if self.pc.connectionState == "connected":
            self.session.media_connected()

    def on_track(self, track):
        if track.kind != "audio":
            return
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        proto.log("remote_track", mid=mid)
        self.readers.append(asyncio.ensure_future(self.read_audio(track, mid)))

    async def read_audio(self, track, mid):
        # One reader per m-line: with m-line recycling its owner changes, and Session.audio
        # files each frame under whoever `track_published` last put on that mid.
        resampler = av.AudioResampler(format="s16", layout="mono", rate=proto.SAMPLE_RATE)
        while True:
            try:
                frame = await track.recv()
            except Exception:  # MediaStreamError: the track ended
                return
            for out in resampler.resample(frame):
                self.session.audio(mid, bytes(out.planes[0])[: out.samples * 2])

    async def make_offer(self):
        if self.args.tone_hz:
            self.pc.addTrack(ToneTrack(self.args.tone_hz))
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
        if self.args.offer_video:
            self.pc.addTrack(VideoStreamTrack())
        # aiortc gathers every candidate in setLocalDescription (no trickle).
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        sources = {"audio": "microphone", "video": "camera"}
        tracks = [{"mid": mid, "source": sources[kind]} for kind, mid in proto.sending_mids(sdp)]
        return sdp, tracks

    async def apply_answer(self, sdp):
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def answer_offer(self, sdp):
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def close(self):
        for r in self.readers:
            r.cancel()
        await self.pc.close()


def main():
    parser = proto.base_args(__doc__)
    parser.add_argument("--offer-video", action="store_true",
                        help="also offer a camera track (refused in voice rooms)")
    args = parser.parse_args()
    client = AiortcClient(args)
    return asyncio.run(proto.run_client(args, client, "aiortc"))


if __name__ == "__main__":
    sys.exit(main())
