//! The runtime of one worker: a thread that owns the UDP socket, the clock, the command channel
//! and the batched sends, and drives one [`Engine`] with them. The engine's events go to the
//! rooms layer's thread (`crate::rooms`) over a channel: the worker does no room work.
//!
//! Loop: wait on the socket, the command channel (a mio waker) and the engine's next timeout;
//! give the engine each datagram (up to a read budget) and each command, then the time; after
//! every input, drain the engine's output into the send batch and send it (`sendmmsg`) before the
//! next input, so a packet's copies leave right after its fan-out.

mod batch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::SfuConfig;
use crate::engine::{Command, Engine, EngineEvent, Input, Output};
use crate::error::SfuError;
use crate::rooms::CommandSink;
use crate::stats::WorkerStats;
use batch::BatchSender;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Datagrams read before timers and commands get a turn.
const READ_BUDGET: usize = 256;
/// Largest UDP payload read.
const MAX_DATAGRAM: usize = 2048;

/// Queues commands for one worker's engine and wakes its thread. Cheap to clone.
#[derive(Clone)]
pub struct WorkerSender {
    tx: Sender<Command>,
    waker: Arc<Waker>,
}

impl CommandSink for WorkerSender {
    fn send(&self, command: Command) -> Result<(), SfuError> {
        self.tx.send(command).map_err(|_| SfuError::WorkerGone)?;
        self.waker.wake().map_err(|_| SfuError::WorkerGone)
    }
}

/// The sessions' side of a worker.
pub struct WorkerHandle {
    sender: WorkerSender,
    thread: Option<JoinHandle<()>>,
    pub local_addr: SocketAddr,
    pub stats: Arc<WorkerStats>,
}

impl WorkerHandle {
    /// Binds the worker's socket and starts its thread; the engine's events go to `events`.
    pub fn spawn(
        index: usize,
        bind: SocketAddr,
        config: &SfuConfig,
        events: Sender<EngineEvent>,
    ) -> Result<WorkerHandle, SfuError> {
        let mut socket = batch::bind(bind)?;
        let local_addr = socket.local_addr()?;
        let advertised =
            SocketAddr::new(config.advertised_ip.unwrap_or(bind.ip()), local_addr.port());
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let stats = Arc::new(WorkerStats::default());
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| SfuError::Config("cannot generate a DTLS certificate".into()))?;
        let engine = Engine::new(config, advertised, cert, stats.clone(), Instant::now());
        let runtime = Runtime {
            socket,
            poll,
            commands: rx,
            sender: BatchSender::default(),
            engine,
            events,
            running: true,
        };
        let thread = std::thread::Builder::new()
            .name(format!("sfu-worker-{index}"))
            .spawn(move || runtime.run())?;
        tracing::info!(worker = index, %local_addr, %advertised, "sfu worker started");
        Ok(WorkerHandle {
            sender: WorkerSender { tx, waker },
            thread: Some(thread),
            local_addr,
            stats,
        })
    }

    /// Queues a command and wakes the worker.
    pub fn send(&self, command: Command) -> Result<(), SfuError> {
        self.sender.send(command)
    }

    /// A sender of commands to this worker, for the rooms layer.
    pub fn sender(&self) -> WorkerSender {
        self.sender.clone()
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        let _ = self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What one worker thread owns.
struct Runtime {
    socket: mio::net::UdpSocket,
    poll: Poll,
    commands: Receiver<Command>,
    sender: BatchSender,
    engine: Engine,
    /// To the rooms layer.
    events: Sender<EngineEvent>,
    running: bool,
}

impl Runtime {
    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut next_timeout = self.drain();
        let mut more_to_read = false;
        while self.running {
            let wait = if more_to_read {
                Duration::ZERO
            } else {
                next_timeout.saturating_duration_since(Instant::now())
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                tracing::error!(error = %e, "sfu poll failed; worker stops");
                break;
            }
            let readable = more_to_read || events.iter().any(|e| e.token() == SOCKET);
            more_to_read = readable && self.read_datagrams(&mut buf);
            self.run_commands();
            self.give(Input::Timeout(Instant::now()));
            next_timeout = self.drain();
        }
        if self.running {
            // The loop broke on a poll failure: the peers still leave.
            self.give(Input::Command {
                at: Instant::now(),
                command: Command::Shutdown,
            });
            self.drain();
        }
    }

    /// Reads datagrams until the socket is empty or the budget is spent. Returns true if more may
    /// be waiting.
    fn read_datagrams(&mut self, buf: &mut [u8]) -> bool {
        for _ in 0..READ_BUDGET {
            let (n, source) = match self.socket.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors surface here (ECONNREFUSED from a departed client): not fatal.
                    tracing::trace!(error = %e, "udp recv error");
                    continue;
                }
            };
            let at = Instant::now();
            self.give(Input::Receive {
                at,
                source,
                contents: &buf[..n],
            });
            self.drain();
        }
        true
    }

    fn run_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            let shutdown = matches!(command, Command::Shutdown);
            self.give(Input::Command {
                at: Instant::now(),
                command,
            });
            self.drain();
            if shutdown {
                self.running = false;
            }
        }
    }

    /// Gives the engine one input. The runtime drains after every input, so it is never refused.
    fn give(&mut self, input: Input<'_>) {
        if let Err(e) = self.engine.handle_input(input) {
            tracing::error!(error = %e, "sfu engine refused an input");
        }
    }

    /// Sends everything the engine has queued; returns when it wants the next timeout.
    fn drain(&mut self) -> Instant {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(t) => self.sender.extend([t]),
                Output::Event(e) => {
                    // The rooms layer stops last: a send fails only while the process stops.
                    let _ = self.events.send(e);
                }
                Output::Timeout(at) => {
                    self.flush();
                    return at;
                }
            }
        }
    }

    fn flush(&mut self) {
        if self.sender.is_empty() {
            return;
        }
        let outcome = self.sender.flush(&self.socket);
        let stats = self.engine.stats();
        WorkerStats::add(&stats.datagrams_sent, outcome.sent);
        WorkerStats::add(&stats.send_batches, outcome.calls);
        self.give(Input::Sent(Instant::now()));
    }
}
