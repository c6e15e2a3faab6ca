#!/usr/bin/env python3
"""Writes the seed corpora of the text-input fuzz targets into fuzz/corpus/<target>/.

Seeds are the documented examples (docs/protocol.md, docs/control-api.md), the inputs the crates'
own tests use, and the sample configuration. The sfu targets' seeds come from a real in-memory
session instead: `cargo run -p sfu --features fuzzing --example fuzz_seeds -- fuzz/corpus`.

Usage: python3 fuzz/text_seeds.py   (from the repository root; overwrites the same files)
"""

import base64
import hashlib
import hmac
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
SAMPLE_CONFIG = (pathlib.Path(__file__).resolve().parent.parent / "openchatd.sample.toml").read_bytes()

# Must match the fuzz targets' constants.
TICKET_SECRET = b"fuzz-ticket-secret"
ACCESS_SECRET = b"fuzz-access-secret"
FOREIGN_SECRET = b"another-secret"
FAR_FUTURE = 4102444800  # 2100-01-01


def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header, claims, secret):
    message = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return f"{message}.{b64(sig)}"


def signaling_frame():
    frames = {
        "join": {"type": "join", "protocol": 1, "ticket": "eyJhbGciOiJIUzI1NiJ9.e30.sig"},
        "offer": {"type": "offer", "sdp": "v=0\r\n", "tracks": [{"mid": "0", "source": "microphone"}]},
        "answer": {"type": "answer", "sdp": "v=0\r\n"},
        "candidate": {"type": "candidate", "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
                      "sdp_mid": "0", "sdp_mline_index": 0},
        "end-of-candidates": {"type": "candidate", "candidate": ""},
        "mute": {"type": "mute", "source": "screenshare_audio", "muted": True},
        "ping": {"type": "ping", "nonce": {"n": [1, 2.5, "x", None]}},
        "leave": {"type": "leave"},
    }
    for name, frame in frames.items():
        write("signaling_frame", name, json.dumps(frame))
    write("signaling_frame", "bad-protocol", '{"type":"join","protocol":"1","ticket":"x"}')


def realtime_frame():
    write("realtime_frame", "ping", '{"type":"ping"}')
    write("realtime_frame", "typing", '{"type":"typing","channel_id":"ch_general"}')
    write("realtime_frame", "unknown-field", '{"type":"typing","channel_id":"c","extra":1}')
    write("realtime_frame", "binary", "binary")


def avatar_sniff():
    write("avatar_sniff", "png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write("avatar_sniff", "jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
    write("avatar_sniff", "gif", b"GIF89a\x01\x00\x01\x00")
    write("avatar_sniff", "webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ")
    write("avatar_sniff", "wave", b"RIFF\x24\x00\x00\x00WAVEfmt ")
    write("avatar_sniff", "svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")


def ticket_claims(**over):
    claims = {"sub": "alice", "did": "laptop", "chn": "vc_general", "srv": "srv_harbor", "knd": "voice",
              "grt": {"microphone": True, "camera": False, "screenshare": False, "screenshare_audio": False},
              "node": "fuzz-node", "jti": "0123456789abcdef", "exp": FAR_FUTURE, "iat": 1700000000,
              "aud": "openchat-rtc"}
    claims.update(over)
    return claims


def join_ticket():
    # Signed mode (odd mode byte): the harness signs the claims (and header, before 0xFF).
    write("join_ticket", "signed-valid", b"\x01" + json.dumps(ticket_claims()).encode())
    write("join_ticket", "signed-other-node", b"\x01" + json.dumps(ticket_claims(node="node-b")).encode())
    write("join_ticket", "signed-expired", b"\x01" + json.dumps(ticket_claims(exp=1000)).encode())
    write("join_ticket", "signed-header", b"\x01" + b'{"alg":"HS256","typ":"JWT","kid":"k"}\xff'
          + json.dumps(ticket_claims()).encode())
    # Raw mode (even mode byte): whole tickets, none signed with the authority's key.
    forged = jwt({"alg": "HS256", "typ": "JWT"}, ticket_claims(), FOREIGN_SECRET)
    write("join_ticket", "raw-forged", b"\x00" + forged.encode())
    none = b64(b'{"alg":"none"}') + "." + b64(json.dumps(ticket_claims()).encode()) + "."
    write("join_ticket", "raw-alg-none", b"\x00" + none.encode())
    write("join_ticket", "raw-garbage", b"\x00not.a.jwt")


def access_token():
    claims = {"sub": "alice", "iss": "openchat", "aud": "openchat", "exp": FAR_FUTURE, "iat": 1700000000,
              "did": "laptop"}
    forged = jwt({"alg": "HS256", "typ": "JWT"}, claims, FOREIGN_SECRET)
    write("access_token", "hs256-forged", b"\x00" + forged.encode())
    eddsa = b64(b'{"alg":"EdDSA","typ":"JWT"}') + "." + b64(json.dumps(claims).encode()) + "." + b64(bytes(64))
    write("access_token", "eddsa-forged", b"\x01" + eddsa.encode())
    write("access_token", "signed-valid", b"\x02" + json.dumps(claims).encode())
    bad_sub = dict(claims, sub="../alice", did="a b")
    write("access_token", "signed-bad-subject", b"\x02" + json.dumps(bad_sub).encode())
    no_did = {k: v for k, v in claims.items() if k != "did"}
    write("access_token", "signed-header-no-did", b"\x02" + b'{"alg":"HS256"}\xff' + json.dumps(no_did).encode())
    write("access_token", "bearer-header", b"\x03Bearer " + forged.encode())
    write("access_token", "bearer-query", b"\x03\xffaccess_token=" + forged.encode() + b"&last_event_id=7")


def config():
    write("config", "sample", SAMPLE_CONFIG)
    write("config", "layers", b'[http]\nlisten = "127.0.0.1:9000"\n[media]\nport = 9100\n\0'
          b"OPENCHAT_MEDIA_PORT=9200\nOPENCHAT_RTC_NODE_ID=edge-a\n--rtc.node_id=edge-b\n")
    write("config", "production", b'mode = "production"\n[auth]\nsecret = "0123456789abcdef0123456789abcdef"\n'
          b'[database]\nurl = "postgres://u:p@127.0.0.1/db"\n\0OPENCHAT_LIMITS_USER_RPS=2.5\n')
    write("config", "env-only", b"\0OPENCHAT_AUTH_SECRET_FILE=/run/secrets/x\nOPENCHAT_MEDIA_WORKERS=4\n"
          b"OPENCHAT_MEDIA_BIND_IP=0.0.0.0\nOPENCHAT_MEDIA_ADVERTISED_IP=192.0.2.7\n")
    write("config", "unknown-key", b"[http]\nlisten = \"127.0.0.1:9000\"\nbogus = 1\n")


if __name__ == "__main__":
    signaling_frame()
    realtime_frame()
    avatar_sniff()
    join_ticket()
    access_token()
    config()
    print(f"text seeds written under {ROOT}")
