//! Just enough STUN parsing to route a binding request to its peer by ICE username fragment.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;

/// Whether `buf` looks like a STUN message (RFC 7983 demultiplexing plus the magic cookie).
pub fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= 20 && buf[0] < 2 && buf[4..8] == MAGIC_COOKIE
}

/// The local (our) ufrag of a STUN binding request: the part of USERNAME before the colon.
pub fn local_ufrag(buf: &[u8]) -> Option<&str> {
    if !is_stun(buf) {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    let end = (20 + declared).min(buf.len());
    let mut at = 20;
    while at + 4 <= end {
        let kind = u16::from_be_bytes([buf[at], buf[at + 1]]);
        let len = usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]]));
        let value = buf.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn finds_local_ufrag() {
        let m = binding_request("srvfrag:clientfrag");
        assert_eq!(local_ufrag(&m), Some("srvfrag"));
    }

    #[test]
    fn garbage_is_not_stun() {
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(local_ufrag(&[0u8; 19]), None);
        assert_eq!(local_ufrag(&[0xff; 64]), None);
        let mut m = binding_request("a:b");
        m.truncate(26); // attribute header claims more than is there
        assert_eq!(local_ufrag(&m), None);
        let mut lying = binding_request("a:b");
        lying[2] = 0xff; // declared length larger than the datagram
        assert_eq!(local_ufrag(&lying), Some("a"));
    }
}
