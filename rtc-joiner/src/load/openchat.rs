//! The [`LoadClient`] for `openchatd`: each slot is a [`Joiner`] with a development user.

use super::engine::{JoinFuture, LoadClient, Slot};
use super::probe::JoinProbe;
use super::setup::Rooms;
use crate::Joiner;
use crate::audio_source::PcmClip;
use crate::cli::{Auth, JoinerConfig, MediaInput};
use tokio::sync::watch;

/// Joins `openchatd` rooms as development users `<run_id>-u<index>`.
pub struct OpenChatClient {
    /// Template: backend, media mode, bind addresses, connect timeout. Channel, auth, media
    /// and duration are set per slot.
    pub template: JoinerConfig,
    /// Where slots go (room `i` is `rooms.channels[i]`).
    pub rooms: Rooms,
    /// Prefix of user ids.
    pub run_id: String,
    /// What publishers send.
    pub publish: Publish,
}

/// Publishers' audio.
#[derive(Clone)]
pub enum Publish {
    /// A tone: publisher `i` uses `base_hz + 10 * (i % 50)` Hz.
    Tone {
        /// Frequency of publisher 0.
        base_hz: f64,
    },
    /// A decoded clip shared by every publisher, looped.
    Clip(PcmClip),
}

/// User id of a slot.
pub fn user_id(run_id: &str, index: usize) -> String {
    format!("{run_id}-u{index}")
}

impl LoadClient for OpenChatClient {
    fn join(&self, slot: Slot, probe: JoinProbe, mut stop: watch::Receiver<bool>) -> JoinFuture {
        let mut config = self.template.clone();
        config.server_id = self.rooms.server_id.clone();
        config.channel_id =
            self.rooms.channels[slot.room % self.rooms.channels.len().max(1)].clone();
        config.auth = Auth::DevUser {
            user_id: user_id(&self.run_id, slot.index),
            device_id: None,
        };
        config.duration = None;
        config.write_received_dir = None;
        let joiner = match (&self.publish, slot.publishes) {
            (_, false) => {
                config.media = MediaInput::Listen;
                Joiner::new(config)
            }
            (Publish::Tone { base_hz }, true) => {
                config.media = MediaInput::Tone {
                    hz: base_hz + 10.0 * (slot.index % 50) as f64,
                };
                Joiner::new(config)
            }
            (Publish::Clip(clip), true) => {
                config.media = MediaInput::File {
                    path: "clip".into(),
                    file_type: crate::audio_source::FileType::Wav,
                    looping: true,
                };
                Joiner::with_clip(config, clip.clone())
            }
        };
        let joiner = joiner.with_probe(probe);
        Box::pin(async move {
            joiner
                .run(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    }
}
