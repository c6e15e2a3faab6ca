//! Writing received video: IVF files (VP8, VP9, AV1) and Annex-B H.264 streams, one frame at a
//! time, the IVF header's frame count patched when the file is finished.

use super::clip::VideoCodec;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// An AV1 temporal delimiter OBU (type 2, with a size field of 0).
const AV1_TEMPORAL_DELIMITER: [u8; 2] = [0x12, 0x00];

/// RTP video clock: IVF timestamps are written in its ticks (time base 1/90000).
const RTP_VIDEO_CLOCK: u32 = 90_000;

/// A file of received frames.
pub struct VideoFileWriter {
    out: BufWriter<File>,
    codec: VideoCodec,
    frames: u32,
}

impl VideoFileWriter {
    /// Creates `path`; an IVF file gets its header for `width` x `height` at once.
    pub fn create(
        path: &Path,
        codec: VideoCodec,
        width: u32,
        height: u32,
    ) -> std::io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        if codec.is_ivf() {
            let mut header = Vec::with_capacity(32);
            header.extend_from_slice(b"DKIF");
            header.extend_from_slice(&0u16.to_le_bytes()); // version
            header.extend_from_slice(&32u16.to_le_bytes()); // header length
            header.extend_from_slice(&codec.fourcc());
            header.extend_from_slice(&(width.min(0xffff) as u16).to_le_bytes());
            header.extend_from_slice(&(height.min(0xffff) as u16).to_le_bytes());
            header.extend_from_slice(&RTP_VIDEO_CLOCK.to_le_bytes()); // rate
            header.extend_from_slice(&1u32.to_le_bytes()); // scale
            header.extend_from_slice(&0u32.to_le_bytes()); // frame count, patched at the end
            header.extend_from_slice(&0u32.to_le_bytes());
            out.write_all(&header)?;
        }
        Ok(Self {
            out,
            codec,
            frames: 0,
        })
    }

    /// Appends a frame presented at `pts` (90 kHz ticks from the first frame).
    pub fn write_frame(&mut self, pts: u64, frame: &[u8]) -> std::io::Result<()> {
        // An AV1 temporal unit starts with a temporal delimiter OBU, which RTP does not carry.
        let delimiter: &[u8] = match self.codec {
            VideoCodec::Av1 if !frame.starts_with(&AV1_TEMPORAL_DELIMITER) => {
                &AV1_TEMPORAL_DELIMITER
            }
            _ => &[],
        };
        if self.codec.is_ivf() {
            let size =
                u32::try_from(frame.len() + delimiter.len()).map_err(std::io::Error::other)?;
            self.out.write_all(&size.to_le_bytes())?;
            self.out.write_all(&pts.to_le_bytes())?;
        }
        self.out.write_all(delimiter)?;
        self.out.write_all(frame)?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes, and writes the frame count into the IVF header.
    pub fn finish(mut self) -> std::io::Result<u32> {
        self.out.flush()?;
        if self.codec.is_ivf() {
            let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(24))?;
            file.write_all(&self.frames.to_le_bytes())?;
            file.sync_all()?;
        }
        Ok(self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::VideoClip;

    #[test]
    fn a_written_ivf_file_reads_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("x.ivf");
        let mut w = VideoFileWriter::create(&path, VideoCodec::Vp8, 320, 180).expect("create");
        let key = [0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00];
        w.write_frame(0, &key).expect("write");
        w.write_frame(3000, &[0x11, 7]).expect("write");
        assert_eq!(w.finish().expect("finish"), 2);
        let clip = VideoClip::read(&path, 30).expect("reads back");
        assert_eq!(clip.frames.len(), 2);
        assert_eq!((clip.width, clip.height), (320, 180));
        let ms = clip.frame_duration.as_secs_f64() * 1000.0;
        assert!((ms - 33.33).abs() < 0.1, "{ms}");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(
            u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]),
            2
        );
    }
}
