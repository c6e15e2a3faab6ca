#!/usr/bin/env python3
"""Which ways of reusing an m-line in a server re-offer does GStreamer webrtcbin accept?

A probe, not a test: webrtcbin answers three offers per scenario (a track on `s1`, then it ends,
then a new track) and prints each answer or webrtcbin's error. SDP level only (no ICE, no media).
`recycle` (a stopped m-line's slot reused with a new mid, RFC 8829 5.2.2) and `inactive-reuse`
fail on GStreamer 1.22 ("transceiver direction changes are not implemented"); `sendonly-reuse`
(same mid, stays sendonly, new msid/SSRC) and `append` (a new m-line each time) pass.

Usage: python3 webrtcbin_reoffers.py recycle|inactive-reuse|sendonly-reuse|append
"""
import sys, threading
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstSdp", "1.0"); gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC
Gst.init(None)

SESSION = """v=0
o=str0m-0.25.0 1 {ver} IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE {bundle}
a=msid-semantic: WMS *
a=ice-lite
"""
def section(mid, direction, port=9, msid=None, ssrc=None):
    s = f"""m=audio {port} UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=candidate:1 1 udp 2130706175 127.0.0.1 18482 typ host
a=ice-ufrag:abcdabcdabcdabcd
a=ice-pwd:abcdabcdabcdabcdabcdabcdabcdabcd
a=fingerprint:sha-256 CD:F5:6B:20:42:01:EF:DC:1A:76:95:DC:EF:98:56:1B:EB:AC:74:C8:5F:0B:D4:88:04:92:BA:3A:E5:3C:D6:96
a=setup:actpass
a=mid:{mid}
a={direction}
a=rtcp-mux
a=rtpmap:111 opus/48000/2
"""
    if msid:
        s += f"a=msid:{msid} {msid}-t\na=ssrc:{ssrc} cname:{msid}\n"
    return s

def offer(ver, sections):
    mids = [m for (m, d, p, *_ ) in sections if p != 0]
    text = SESSION.format(ver=ver, bundle=" ".join(mids))
    for m, d, p, *rest in sections:
        text += section(m, d, p, *rest)
    return text.replace("\n", "\r\n")

pipe = Gst.Pipeline.new()
w = Gst.ElementFactory.make("webrtcbin")
w.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
pipe.add(w)
pipe.set_state(Gst.State.PLAYING)

def call(sig, *a):
    ev = threading.Event(); out = {}
    def done(p):
        r = p.get_reply()
        if r is not None and r.has_field("error"):
            out["error"] = r.get_value("error").message
        elif r is not None and r.has_field("answer"):
            out["answer"] = r.get_value("answer").sdp.as_text()
        ev.set()
    w.emit(sig, *a, Gst.Promise.new_with_change_func(done))
    ev.wait(5)
    return out

def negotiate(text):
    ok, msg = GstSdp.SDPMessage.new_from_text(text)
    r = call("set-remote-description", GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, msg))
    if "error" in r: return "SRD: " + r["error"]
    r = call("create-answer", None)
    if "error" in r: return "CA: " + r["error"]
    ans = r["answer"]
    ok, msg = GstSdp.SDPMessage.new_from_text(ans)
    r = call("set-local-description", GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg))
    if "error" in r: return "SLD: " + r["error"]
    return "ok " + " | ".join(l for l in ans.splitlines() if l.startswith(("m=", "a=mid", "a=recv", "a=send", "a=inac")))

scenario = sys.argv[1]
steps = {
 "recycle": [
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pA", 111)],
   [("0", "recvonly", 9), ("s1", "inactive", 0)],
   [("0", "recvonly", 9), ("s2", "sendonly", 9, "pB", 222)],
 ],
 "inactive-reuse": [
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pA", 111)],
   [("0", "recvonly", 9), ("s1", "inactive", 9)],
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pB", 222)],
 ],
 "sendonly-reuse": [
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pA", 111)],
   [("0", "recvonly", 9), ("s1", "sendonly", 9)],
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pB", 222)],
 ],
 "append": [
   [("0", "recvonly", 9), ("s1", "sendonly", 9, "pA", 111)],
   [("0", "recvonly", 9), ("s1", "inactive", 0)],
   [("0", "recvonly", 9), ("s1", "inactive", 0), ("s2", "sendonly", 9, "pB", 222)],
 ],
}[scenario]
for i, secs in enumerate(steps):
    print(scenario, i, negotiate(offer(i + 2, secs)))
pipe.set_state(Gst.State.NULL)
