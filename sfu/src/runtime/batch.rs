//! The runtime's socket: set-up and batched sends (`sendmmsg`).

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use str0m::net::Transmit;

/// Largest batch handed to one `sendmmsg` call.
const MAX_BATCH: usize = 64;

/// Binds a non-blocking UDP socket with buffers sized for bursts of fan-out.
pub fn bind(addr: SocketAddr) -> std::io::Result<mio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// Collects outgoing datagrams and sends them with as few system calls as the platform allows.
#[derive(Default)]
pub struct BatchSender {
    queue: Vec<Transmit>,
}

/// What one flush did.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlushOutcome {
    pub sent: u64,
    pub calls: u64,
    pub dropped: u64,
}

impl BatchSender {
    /// Queues datagrams.
    pub fn extend(&mut self, transmits: impl IntoIterator<Item = Transmit>) {
        self.queue.extend(transmits);
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Sends everything queued. Datagrams the kernel refuses (full buffer, unreachable) are dropped:
    /// UDP media is loss tolerant and the peer's NACK/timeout handling takes over.
    pub fn flush(&mut self, socket: &mio::net::UdpSocket) -> FlushOutcome {
        let mut outcome = FlushOutcome::default();
        let fd = socket.as_raw_fd();
        // Built once per flush; a refused datagram only moves the window over them.
        let slices: Vec<[std::io::IoSlice<'_>; 1]> = self
            .queue
            .iter()
            .map(|t| [std::io::IoSlice::new(&t.contents)])
            .collect();
        let addrs: Vec<Option<SockaddrStorage>> = self
            .queue
            .iter()
            .map(|t| Some(SockaddrStorage::from(t.destination)))
            .collect();
        let mut start = 0;
        while start < self.queue.len() {
            let end = (start + MAX_BATCH).min(self.queue.len());
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(end - start, None);
            outcome.calls += 1;
            match sendmmsg(
                fd,
                &mut headers,
                &slices[start..end],
                &addrs[start..end],
                [],
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(results) => {
                    let n = results.count();
                    outcome.sent += n as u64;
                    if n == 0 {
                        outcome.dropped += (end - start) as u64;
                        start = end;
                    } else {
                        start += n;
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    // The first datagram of the batch failed (EAGAIN, ECONNREFUSED, ...): drop it and
                    // go on with the rest.
                    outcome.dropped += 1;
                    start += 1;
                }
            }
        }
        self.queue.clear();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::net::Protocol;

    #[test]
    fn batch_reaches_several_destinations() {
        let sender_socket = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let receivers: Vec<std::net::UdpSocket> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let mut sender = BatchSender::default();
        let source = sender_socket.local_addr().expect("addr");
        for (i, r) in receivers.iter().enumerate() {
            sender.extend([Transmit {
                proto: Protocol::Udp,
                source,
                destination: r.local_addr().expect("addr"),
                contents: vec![i as u8; 10].into(),
            }]);
        }
        let outcome = sender.flush(&sender_socket);
        assert_eq!(outcome.sent, 3);
        assert_eq!(outcome.calls, 1);
        for (i, r) in receivers.iter().enumerate() {
            r.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .expect("timeout");
            let mut buf = [0u8; 32];
            let n = r.recv(&mut buf).expect("datagram");
            assert_eq!(&buf[..n], &[i as u8; 10][..]);
        }
    }
}
