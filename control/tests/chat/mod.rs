//! Shared helpers for the membership, message and realtime tests.
#![allow(dead_code)]

pub mod http;

use std::time::Duration;

use control::realtime::{ClientInput, run_session};
use control::{
    ChannelKind, CommitError, CommitOutcome, CommitRequest, Control, DeviceRef, NewChannel,
    NewMessage, NewServer, Role, SendError, SendOutcome,
};
use futures_util::{sink, stream};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The test channel.
pub const CHANNEL: &str = "tc_chat";
/// Its server.
pub const SERVER: &str = "srv_chat";
/// How long any awaited condition may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A device reference.
pub fn dev(user: &str, device: &str) -> DeviceRef {
    DeviceRef::new(user, device)
}

/// Server `srv_chat` (alice owner; bob and carol members) with text channel `tc_chat`, and
/// devices alice/laptop, alice/phone, bob/laptop, bob/phone, carol/laptop, dave/laptop (dave is
/// not a server member). The channel is at epoch 0 with no member device.
pub async fn setup(ctl: &Control) {
    let server = NewServer {
        id: Some(SERVER.into()),
        name: "Chat".into(),
    };
    ctl.create_server("alice", server).await.expect("server");
    for user in ["bob", "carol"] {
        ctl.add_member("alice", SERVER, user, Some(Role::Member))
            .await
            .expect("member");
    }
    let channel = NewChannel {
        id: Some(CHANNEL.into()),
        name: "chat".into(),
        kind: ChannelKind::Text,
    };
    ctl.create_channel("alice", SERVER, channel)
        .await
        .expect("channel");
    for (user, device) in [
        ("alice", "laptop"),
        ("alice", "phone"),
        ("bob", "laptop"),
        ("bob", "phone"),
        ("carol", "laptop"),
        ("dave", "laptop"),
    ] {
        ctl.testing_insert_device(user, device)
            .await
            .expect("device");
    }
}

/// A commit request with an opaque commit and no welcomes or proposals.
pub fn request(epoch: i64, added: &[DeviceRef], removed: &[DeviceRef]) -> CommitRequest {
    CommitRequest {
        epoch,
        commit: "Y29tbWl0".into(),
        added: added.to_vec(),
        removed: removed.to_vec(),
        welcomes: Vec::new(),
        proposal_ids: Vec::new(),
    }
}

/// Commits `added`/`removed` as `sender` against `epoch`.
pub async fn commit(
    ctl: &Control,
    sender: &DeviceRef,
    epoch: i64,
    added: &[DeviceRef],
    removed: &[DeviceRef],
) -> Result<CommitOutcome, CommitError> {
    ctl.commit_membership(sender, CHANNEL, request(epoch, added, removed))
        .await
}

/// [`setup`], then alice/laptop bootstraps the group (epoch 1) and adds bob/laptop (epoch 2).
pub async fn setup_with_group(ctl: &Control) {
    setup(ctl).await;
    let alice = dev("alice", "laptop");
    commit(ctl, &alice, 0, std::slice::from_ref(&alice), &[])
        .await
        .expect("bootstrap");
    commit(ctl, &alice, 1, &[dev("bob", "laptop")], &[])
        .await
        .expect("add bob");
}

/// A message with the given client id, epoch and base64 ciphertext.
pub fn message(client_id: &str, epoch: i64, ciphertext: &str) -> NewMessage {
    NewMessage {
        client_message_id: client_id.into(),
        epoch,
        ciphertext: ciphertext.into(),
        content_type: control::ContentType::Message,
        metadata: None,
        refers_to: None,
    }
}

/// Sends a message as `sender` to the test channel.
pub async fn send(
    ctl: &Control,
    sender: &DeviceRef,
    client_id: &str,
    epoch: i64,
) -> Result<SendOutcome, SendError> {
    ctl.send_message(sender, CHANNEL, message(client_id, epoch, "aGVsbG8="))
        .await
}

/// A realtime session driven over in-memory channels.
pub struct Client {
    input: Option<mpsc::UnboundedSender<ClientInput>>,
    frames: mpsc::UnboundedReceiver<String>,
    task: JoinHandle<()>,
}

impl Client {
    /// Starts a session for `device`, resuming after `resume` when given.
    pub fn connect(ctl: &Control, device: DeviceRef, resume: Option<i64>) -> Client {
        let (frame_tx, frames) = mpsc::unbounded_channel::<String>();
        let (input, input_rx) = mpsc::unbounded_channel::<ClientInput>();
        let sink = Box::pin(sink::unfold(frame_tx, |tx, frame: String| async move {
            tx.send(frame).map(|()| tx).map_err(|_| "client gone")
        }));
        let stream = Box::pin(stream::unfold(input_rx, |mut rx| async move {
            rx.recv().await.map(|input| (input, rx))
        }));
        let task = tokio::spawn(run_session(ctl.clone(), device, resume, sink, stream));
        Client {
            input: Some(input),
            frames,
            task,
        }
    }

    /// The next frame (panics after [`DEADLINE`]).
    pub async fn next(&mut self) -> Value {
        let frame = tokio::time::timeout(DEADLINE, self.frames.recv())
            .await
            .expect("a frame before the deadline")
            .expect("session still open");
        serde_json::from_str(&frame).expect("JSON frame")
    }

    /// The next frame, or `None` once the session closed (no deadline: wrap it in one).
    pub async fn recv_raw(&mut self) -> Option<Value> {
        let frame = self.frames.recv().await?;
        Some(serde_json::from_str(&frame).expect("JSON frame"))
    }

    /// Waits for `ready`; returns its `last_event_id`. Replayed events before it are returned too.
    pub async fn ready(&mut self) -> (i64, Vec<Value>) {
        let mut replayed = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "ready" {
                return (frame["last_event_id"].as_i64().expect("id"), replayed);
            }
            replayed.push(frame);
        }
    }

    /// The next `event` frame of `kind` (other frames are skipped).
    pub async fn next_event(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == "event" && frame["kind"] == kind {
                return frame;
            }
        }
    }

    /// Sends a text frame.
    pub fn say(&self, text: &str) {
        if let Some(input) = &self.input {
            let _ = input.send(ClientInput::Text(text.into()));
        }
    }

    /// Frames already queued (none awaited).
    pub fn drain(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(frame) = self.frames.try_recv() {
            out.push(serde_json::from_str(&frame).expect("JSON frame"));
        }
        out
    }

    /// Closes the client side and waits for the session to end.
    pub async fn close(mut self) -> Vec<Value> {
        self.input = None;
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("session ends")
            .expect("session task");
        self.drain()
    }
}

/// Ids of `event` frames.
pub fn event_ids(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .filter(|f| f["type"] == "event")
        .filter_map(|f| f["id"].as_i64())
        .collect()
}
