//! Just enough H.264 (ITU-T H.264, Annex B byte stream) to send a file frame by frame and to
//! name what was received: NAL unit splitting, access-unit boundaries, and the picture size in
//! a sequence parameter set.

/// The NAL units of an Annex-B byte stream, without their start codes.
pub fn nal_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|next| {
            // The next start code is 00 00 01, or 00 00 00 01 (its zero belongs to it).
            let mut end = next - 3;
            if end > 0 && stream[end - 1] == 0 {
                end -= 1;
            }
            end
        })
        .chain(std::iter::once(stream.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .filter(move |(s, e)| s < e)
        .map(move |(s, e)| &stream[s..e])
}

/// `nal_unit_type` of a NAL unit (0 for an empty one).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// A coded slice (non-IDR or IDR).
fn is_vcl(kind: u8) -> bool {
    matches!(kind, 1 | 5)
}

/// Splits a stream into access units (7.4.1.2.3): a new one starts at an access unit
/// delimiter, at SEI/SPS/PPS after a slice, or at a slice whose `first_mb_in_slice` is 0
/// after a slice. Each unit is written back with four-byte start codes.
pub fn access_units(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut has_slice = false;
    for nal in nal_units(stream) {
        let kind = nal_type(nal);
        // ue(v) first_mb_in_slice == 0 is the single bit 1.
        let first_slice = is_vcl(kind) && nal.get(1).is_some_and(|b| b & 0x80 != 0);
        let starts_unit = kind == 9 || (has_slice && (matches!(kind, 6..=8) || first_slice));
        if starts_unit && !current.is_empty() {
            units.push(std::mem::take(&mut current));
            has_slice = false;
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
        has_slice |= is_vcl(kind);
    }
    if has_slice {
        units.push(current);
    }
    units
}

/// Puts the latest SPS and PPS in front of every IDR access unit that lacks them, so a
/// receiver that starts at any keyframe (or a later pass of a looped file) can decode:
/// encoders write them once at the start unless told to repeat them.
pub fn with_parameter_sets(units: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut sps: Option<Vec<u8>> = None;
    let mut pps: Option<Vec<u8>> = None;
    units
        .into_iter()
        .map(|au| {
            let kinds: Vec<u8> = nal_units(&au).map(nal_type).collect();
            for nal in nal_units(&au) {
                match nal_type(nal) {
                    7 => sps = Some(nal.to_vec()),
                    8 => pps = Some(nal.to_vec()),
                    _ => {}
                }
            }
            let idr = kinds.contains(&5);
            if !idr || (kinds.contains(&7) && kinds.contains(&8)) {
                return au;
            }
            let mut out = Vec::with_capacity(au.len() + 64);
            for set in [&sps, &pps].into_iter().flatten() {
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(set);
            }
            out.extend_from_slice(&au);
            out
        })
        .collect()
}

/// Reads bits most significant first, skipping emulation-prevention bytes (00 00 03).
struct Bits<'a> {
    bytes: Vec<u8>,
    at: usize,
    _nal: std::marker::PhantomData<&'a ()>,
}

impl<'a> Bits<'a> {
    fn new(rbsp_with_emulation: &'a [u8]) -> Self {
        let mut bytes = Vec::with_capacity(rbsp_with_emulation.len());
        let mut zeros = 0;
        for &b in rbsp_with_emulation {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            bytes.push(b);
        }
        Bits {
            bytes,
            at: 0,
            _nal: std::marker::PhantomData,
        }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = self.bytes.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |acc, _| Some((acc << 1) | self.bit()?))
    }

    /// Exp-Golomb ue(v).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        Some(if k % 2 == 1 {
            k.div_ceil(2) as i32
        } else {
            -((k / 2) as i32)
        })
    }
}

/// The cropped picture size a sequence parameter set NAL unit (type 7) describes (7.3.2.1.1).
pub fn sps_size(sps: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits::new(sps.get(1..)?);
    let profile_idc = r.bits(8)?;
    r.bits(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()?.clamp(-128, 127) + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()? {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()?.checked_add(1)?;
    let height_map_units = r.ue()?.checked_add(1)?;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let height_mbs = (2 - frame_mbs_only).checked_mul(height_map_units)?;
    let (mut width, mut height) = (width_mbs.checked_mul(16)?, height_mbs.checked_mul(16)?);
    if r.bit()? == 1 {
        let (left, right, top, bottom) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let (crop_x, crop_y) = match chroma_format_idc {
            0 | 3 => (1, 2 - frame_mbs_only),
            2 => (2, 2 - frame_mbs_only),
            _ => (2, 2 * (2 - frame_mbs_only)),
        };
        let crop = |unit: u32, a: u32, b: u32| a.checked_add(b)?.checked_mul(unit);
        width = width.checked_sub(crop(crop_x, left, right)?)?;
        height = height.checked_sub(crop(crop_y, top, bottom)?)?;
    }
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SPS x264 writes for 320x180 baseline (180 is cropped from 192).
    const SPS_320X180: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];

    #[test]
    fn the_sps_names_the_cropped_size() {
        assert_eq!(sps_size(SPS_320X180), Some((320, 180)));
        assert_eq!(sps_size(&[0x67, 0x42]), None, "cut short");
    }

    #[test]
    fn a_stream_splits_into_access_units() {
        let mut stream = Vec::new();
        let mut nal = |bytes: &[u8]| {
            stream.extend_from_slice(&[0, 0, 0, 1]);
            stream.extend_from_slice(bytes);
        };
        nal(SPS_320X180);
        nal(&[0x68, 0xce, 0x38, 0x80]); // PPS
        nal(&[0x65, 0x88, 0x84]); // IDR, first_mb 0
        nal(&[0x65, 0x20, 0x84]); // IDR, first_mb 1: same picture
        nal(&[0x41, 0x9a, 0x21]); // P, first_mb 0: next picture
        nal(&[0x41, 0x9a, 0x22]);
        let units = access_units(&stream);
        assert_eq!(units.len(), 3);
        assert_eq!(nal_units(&units[0]).count(), 4);
        assert_eq!(
            nal_units(&units[0]).map(nal_type).collect::<Vec<_>>(),
            [7, 8, 5, 5]
        );
        assert_eq!(nal_units(&units[2]).next(), Some(&[0x41, 0x9a, 0x22][..]));
    }

    #[test]
    fn a_later_idr_gets_the_parameter_sets() {
        let au = |nals: &[&[u8]]| -> Vec<u8> {
            nals.iter()
                .flat_map(|n| [&[0u8, 0, 0, 1][..], n].concat())
                .collect()
        };
        let units = vec![
            au(&[SPS_320X180, &[0x68, 0xce], &[0x65, 0x88]]),
            au(&[&[0x41, 0x9a]]),
            au(&[&[0x65, 0x88, 0x01]]),
        ];
        let fixed = with_parameter_sets(units.clone());
        assert_eq!(fixed[0], units[0]);
        assert_eq!(fixed[1], units[1], "a delta frame is left alone");
        assert_eq!(
            nal_units(&fixed[2]).map(nal_type).collect::<Vec<_>>(),
            [7, 8, 5]
        );
    }
}
