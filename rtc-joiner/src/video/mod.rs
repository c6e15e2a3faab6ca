//! Video: publishing encoded files (no encoding at run time), with simulcast from one file per
//! encoding, and receiving (frames, keyframes, resolution, freezes counted; frames written to
//! IVF or Annex-B H.264 files).

pub mod assembler;
pub mod clip;
pub mod h264;
pub mod ivf;
pub mod receiver;
pub mod sender;

pub use clip::{VideoClip, VideoCodec, VideoFrame};
pub use receiver::{VideoOwner, VideoReceiverReport, run_video_receiver};
pub use sender::{LayerPlan, LocalLayer, LocalVideo, VideoSenderReport, run_video_sender};

/// The rids of simulcast encodings, lowest first (as browsers name them).
pub const SIMULCAST_RIDS: [&str; 3] = ["q", "h", "f"];

use crate::JoinerError;
use crate::cli::VideoInput;
use crate::peer::VideoPublish;
use openchat_protocol::MediaSource;
use std::sync::Arc;

/// A video track to publish and its files, one per encoding.
pub type TrackFiles = (VideoPublish, Vec<Arc<VideoClip>>);

/// Reads the video files of `input`: the camera's (one per simulcast encoding, same codec and
/// frame rate) and the screenshare's, with what each track publishes.
pub fn load_tracks(input: &VideoInput) -> Result<Vec<TrackFiles>, JoinerError> {
    let mut tracks = Vec::new();
    let read = |path: &std::path::PathBuf| VideoClip::read(path, input.h264_fps).map(Arc::new);
    if let Some(first_path) = input.camera.first() {
        let first = read(first_path)?;
        let mut clips = vec![Arc::clone(&first)];
        for path in &input.camera[1..] {
            let clip = read(path)?;
            if clip.codec != first.codec || clip.frame_duration != first.frame_duration {
                return Err(JoinerError::Config(format!(
                    "every --video file must have the same codec and frame rate: {} is {:?} \
                     at {:.2} fps, {} is {:?} at {:.2} fps",
                    first_path.display(),
                    first.codec,
                    1.0 / first.frame_duration.as_secs_f64(),
                    path.display(),
                    clip.codec,
                    1.0 / clip.frame_duration.as_secs_f64()
                )));
            }
            clips.push(clip);
        }
        tracks.push((
            VideoPublish {
                source: MediaSource::Camera,
                codec: first.codec,
                layers: clips.len(),
            },
            clips,
        ));
    }
    if let Some(path) = &input.screen {
        let clip = read(path)?;
        tracks.push((
            VideoPublish {
                source: MediaSource::Screenshare,
                codec: clip.codec,
                layers: 1,
            },
            vec![clip],
        ));
    }
    Ok(tracks)
}
