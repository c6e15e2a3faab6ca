#!/usr/bin/env python3
"""An OpenChat RTC client on GStreamer webrtcbin (PyGObject), written from docs/protocol.md.

Joins a room, publishes a sine tone (`--tone-hz`, audiotestsrc -> Opus) or only listens, answers
every server offer, records remote audio per participant and prints a JSON summary. webrtcbin keeps
its stock DTLS certificate (RSA-2048). Needs the Debian packages gstreamer1.0-plugins-{base,good,bad},
gstreamer1.0-nice, gir1.2-gst-plugins-bad-1.0, gir1.2-nice-0.1 and python3-gi. Run `--help` for the flags.
"""

import asyncio
import functools
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

import openchat_proto as proto  # noqa: E402

OPUS_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111"
PCM_CAPS = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"


class GstClient:
    def __init__(self, args):
        self.args = args
        self.session = None
        self.loop = asyncio.get_event_loop()
        self.pipeline = Gst.Pipeline.new("client")
        self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.pipeline.add(self.webrtc)
        # The sfu is on loopback here, which libnice never gathers by itself; UDP only.
        self.ice = self.webrtc.get_property("ice-agent")
        self.ice.set_property("ice-tcp", False)
        self.agent = self.ice.get_property("agent")
        for ip in args.local_address:
            addr = Nice.Address.new()
            if not addr.set_from_string(ip):
                raise ValueError(f"--local-address {ip} is not an IP address")
            self.agent.add_local_address(addr)
        self.webrtc.connect("pad-added", self.on_pad_added)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.gathered = asyncio.Event()
        self.negotiation_needed = asyncio.Event()
        self.webrtc.connect("on-negotiation-needed",
                            lambda _w: self.call_soon(self.negotiation_needed.set))
        self.glib = GLib.MainLoop()
        self.glib_thread = threading.Thread(target=self.glib.run, daemon=True)
        self.glib_thread.start()
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_bus_error)
        bus.connect("message::warning", self.on_bus_error)

    # ---- GStreamer threads ---------------------------------------------------------------------
    def call_soon(self, fn, *a, **kw):
        """Runs `fn` on the asyncio loop (GStreamer signals come on its own threads)."""
        self.loop.call_soon_threadsafe(functools.partial(fn, *a, **kw))

    def on_bus_error(self, _bus, message):
        err, debug = (message.parse_error() if message.type == Gst.MessageType.ERROR
                      else message.parse_warning())
        self.call_soon(self.session.client_error, f"gstreamer: {err.message} ({debug})")

    def on_connection_state(self, webrtc, _pspec):
        state = webrtc.get_property("connection-state")
        self.call_soon(proto.log, "connection_state", state=state.value_nick)
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            self.call_soon(self.session.media_connected)

    def on_gathering(self, webrtc, _pspec):
        if webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.call_soon(self.gathered.set)

    def on_pad_added(self, _webrtc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        mid = pad.get_property("transceiver").get_property("mid")
        self.call_soon(proto.log, "remote_track", mid=mid)
        chain = Gst.parse_bin_from_description(
            "queue ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! "
            f"capsfilter caps={PCM_CAPS} ! appsink name=sink emit-signals=true sync=false",
            True)
        self.pipeline.add(chain)
        chain.get_by_name("sink").connect("new-sample", self.on_sample, mid)
        chain.sync_state_with_parent()
        pad.link(chain.get_static_pad("sink"))

    def on_sample(self, sink, mid):
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if ok:
            try:
                self.session.audio(mid, bytes(info.data))
            finally:
                buf.unmap(info)
        return Gst.FlowReturn.OK

    # ---- promises into asyncio -----------------------------------------------------------------
    async def promise(self, signal, *args, field=None):
        """Emits a webrtcbin action signal that takes a GstPromise and waits for its reply.

        The reply belongs to the promise, which may be freed once the change callback returns, so
        everything is copied out on GStreamer's thread: the SDP text of the reply's `field` (for
        create-offer/create-answer), or None. Raises RuntimeError with webrtcbin's error message.
        """
        fut = self.loop.create_future()

        def done(p):
            reply = p.get_reply()
            if reply is not None and reply.has_field("error"):
                result = RuntimeError(f"{signal}: {reply.get_value('error').message}")
            elif field is None:
                result = None
            elif reply is None or not reply.has_field(field):
                result = RuntimeError(f"{signal}: no {field} in the reply")
            else:
                result = reply.get_value(field).sdp.as_text()

            def settle():
                if fut.done():
                    return
                if isinstance(result, Exception):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
            self.call_soon(settle)

        self.webrtc.emit(signal, *args, Gst.Promise.new_with_change_func(done))
        return await asyncio.wait_for(fut, 10)

    async def set_description(self, which, kind, sdp_text):
        ok, msg = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            raise ValueError(f"GstSdp cannot parse the SDP ({ok})")
        desc = GstWebRTC.WebRTCSessionDescription.new(kind, msg)
        await self.promise(which, desc)

    # ---- the three negotiation steps -----------------------------------------------------------
    async def make_offer(self):
        if self.args.tone_hz:
            src = Gst.parse_bin_from_description(
                f"audiotestsrc is-live=true wave=sine freq={self.args.tone_hz} volume=0.3 ! "
                "audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! "
                f"opusenc ! rtpopuspay pt=111 ! capsfilter caps={OPUS_CAPS}", True)
            self.pipeline.add(src)
            src.link(self.webrtc)
        else:
            self.webrtc.emit("add-transceiver",
                             GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                             Gst.Caps.from_string(OPUS_CAPS))
        self.pipeline.set_state(Gst.State.PLAYING)
        # webrtcbin can make an offer once it asks for one (its transceivers have caps by then).
        await asyncio.wait_for(self.negotiation_needed.wait(), 10)
        offer = await self.promise("create-offer", None, field="offer")
        await self.set_description("set-local-description", GstWebRTC.WebRTCSDPType.OFFER, offer)
        # The server is ICE-lite: send every candidate in the offer rather than trickling.
        await asyncio.wait_for(self.gathered.wait(), 10)
        sdp = self.webrtc.get_property("local-description").sdp.as_text()
        tracks = [{"mid": mid, "source": "microphone"}
                  for kind, mid in proto.sending_mids(sdp) if kind == "audio"]
        return sdp, tracks

    async def apply_answer(self, sdp):
        await self.set_description("set-remote-description", GstWebRTC.WebRTCSDPType.ANSWER, sdp)

    async def answer_offer(self, sdp):
        await self.set_description("set-remote-description", GstWebRTC.WebRTCSDPType.OFFER, sdp)
        answer = await self.promise("create-answer", None, field="answer")
        await self.set_description("set-local-description", GstWebRTC.WebRTCSDPType.ANSWER, answer)
        return answer

    async def close(self):
        self.pipeline.set_state(Gst.State.NULL)
        self.glib.quit()


def main():
    parser = proto.base_args(__doc__)
    parser.add_argument("--local-address", action="append", default=None,
                        help="gather ICE candidates on this address (repeatable; default 127.0.0.1)")
    args = parser.parse_args()
    args.local_address = args.local_address or ["127.0.0.1"]
    Gst.init(None)

    async def run():
        client = GstClient(args)
        return await proto.run_client(args, client, "gstreamer")

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
