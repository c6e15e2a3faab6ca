//! The socket of one connection: notes every read for the watchdog, and hands itself to the
//! [`Lingerer`] when dropped after a handler asked for a lingering close.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::state::ConnState;

/// How long a lingering close reads and discards what the client still sends.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most bytes a lingering close discards before it gives up.
pub const LINGER_BYTES: usize = 64 << 20;

/// A connection's TCP stream.
pub struct ConnIo {
    stream: Option<TcpStream>,
    state: Arc<ConnState>,
    lingerer: Lingerer,
}

impl ConnIo {
    /// Wraps `stream`, whose activity `state` tracks.
    pub fn new(stream: TcpStream, state: Arc<ConnState>, lingerer: Lingerer) -> ConnIo {
        ConnIo {
            stream: Some(stream),
            state,
            lingerer,
        }
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match self.stream.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = match this.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => return Poll::Ready(Err(e)),
        };
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.on_read();
        }
        result
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.state.linger.requested()
            && let Some(stream) = self.stream.take()
        {
            self.lingerer.hand_over(stream, self.state.clone());
        }
    }
}

/// Closes sockets gently: sends FIN, then reads and discards what the client still sends (at
/// most [`LINGER_TIME`] and [`LINGER_BYTES`]) so that the last frames written reach it instead
/// of being discarded by a TCP reset. The connection stays counted meanwhile.
#[derive(Clone)]
pub struct Lingerer {
    tx: mpsc::UnboundedSender<(TcpStream, Arc<ConnState>)>,
}

impl Lingerer {
    /// Starts the task that lingers; it ends when every [`Lingerer`] is dropped and the last
    /// socket is closed.
    pub fn start() -> Lingerer {
        let (tx, mut rx) = mpsc::unbounded_channel::<(TcpStream, Arc<ConnState>)>();
        tokio::spawn(async move {
            let mut lingering = JoinSet::new();
            loop {
                tokio::select! {
                    next = rx.recv() => match next {
                        Some((stream, state)) => {
                            lingering.spawn(linger(stream, state));
                        }
                        None => break,
                    },
                    Some(_) = lingering.join_next(), if !lingering.is_empty() => {}
                }
            }
            while lingering.join_next().await.is_some() {}
        });
        Lingerer { tx }
    }

    fn hand_over(&self, stream: TcpStream, state: Arc<ConnState>) {
        // If the task is gone (process stopping), the socket just closes.
        let _ = self.tx.send((stream, state));
    }
}

async fn linger(mut stream: TcpStream, _state: Arc<ConnState>) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut scratch = vec![0u8; 16 * 1024];
        let mut discarded = 0usize;
        while discarded < LINGER_BYTES {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
}
