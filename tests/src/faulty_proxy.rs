//! An HTTP proxy in front of a registry that counts requests and misbehaves on demand: it
//! answers 503 to the next N matching requests, cuts the connection halfway through the next
//! N matching answers (a reset mid-blob), or trickles every answer at a fixed rate. Between
//! faults it forwards each request to the registry as it came and the answer back unchanged.
//!
//! ```no_run
//! # async fn demo(registry: &prepull_testbed::Registry) -> anyhow::Result<()> {
//! use prepull_testbed::{FaultyProxy, ProxyFault};
//! let proxy = FaultyProxy::start(&registry.host_port()).await?;
//! proxy.inject("/manifests/", ProxyFault::Unavailable, 2); // two 503s, then the truth
//! // ... pull `{proxy.host_port()}/repo:tag` ...
//! assert_eq!(proxy.faults_served(), 2);
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a matching request is answered instead of the registry's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyFault {
    /// `503 Service Unavailable` with a short body, the registry never asked.
    Unavailable,
    /// The registry's status and headers, then half the body, then the connection is dropped.
    ResetMidBody,
}

/// Forwards HTTP/1.1 requests to one upstream registry, with faults. Stops when dropped.
#[derive(Debug)]
pub struct FaultyProxy {
    port: u16,
    state: Arc<State>,
    acceptor: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    upstream: String,
    /// Paths seen, in order (method and path).
    requests: Mutex<Vec<String>>,
    /// Pending faults: (path substring, fault, how many more).
    faults: Mutex<Vec<(String, ProxyFault, usize)>>,
    served: AtomicUsize,
    /// Bytes per second for answer bodies; 0 = unthrottled.
    rate: AtomicUsize,
}

type ProxyBody = BoxBody<Bytes, std::io::Error>;

/// The size of one throttled slice of an answer.
const SLICE: Duration = Duration::from_millis(50);

impl FaultyProxy {
    /// Binds a free loopback port forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<FaultyProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            upstream: upstream.to_owned(),
            ..State::default()
        });
        let shared = state.clone();
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .await;
                });
            }
        });
        Ok(FaultyProxy {
            port,
            state,
            acceptor,
        })
    }

    /// `127.0.0.1:<port>`, the registry host to use in image references.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The next `times` requests whose path contains `path_part` get `fault`.
    pub fn inject(&self, path_part: &str, fault: ProxyFault, times: usize) {
        self.state
            .faults
            .lock()
            .push((path_part.to_owned(), fault, times));
    }

    /// Trickles answer bodies at `bytes_per_second` (per answer) from now on; 0 lifts it.
    pub fn throttle(&self, bytes_per_second: usize) {
        self.state.rate.store(bytes_per_second, Ordering::SeqCst);
    }

    /// How many requests (any method) had a path containing `path_part`.
    pub fn requests(&self, path_part: &str) -> usize {
        self.state
            .requests
            .lock()
            .iter()
            .filter(|line| line.contains(path_part))
            .count()
    }

    /// Every request so far, as `METHOD path` lines.
    pub fn request_log(&self) -> Vec<String> {
        self.state.requests.lock().clone()
    }

    /// How many injected faults were served.
    pub fn faults_served(&self) -> usize {
        self.state.served.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl State {
    async fn answer(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        self.requests
            .lock()
            .push(format!("{} {path}", request.method()));
        let fault = self.take_fault(&path);
        if fault == Some(ProxyFault::Unavailable) {
            self.served.fetch_add(1, Ordering::SeqCst);
            return plain(StatusCode::SERVICE_UNAVAILABLE, "injected 503\n");
        }
        let upstream = match self.forward(request).await {
            Ok(answer) => answer,
            Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("upstream: {err}\n")),
        };
        let (parts, body) = upstream.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("upstream body: {err}\n")),
        };
        let cut = if fault == Some(ProxyFault::ResetMidBody) && bytes.len() > 1 {
            self.served.fetch_add(1, Ordering::SeqCst);
            Some(bytes.len() / 2)
        } else {
            None
        };
        let rate = self.rate.load(Ordering::SeqCst);
        Response::from_parts(parts, body_of(bytes, cut, rate))
    }

    /// Takes one pending fault for `path`, if any.
    fn take_fault(&self, path: &str) -> Option<ProxyFault> {
        let mut faults = self.faults.lock();
        let entry = faults
            .iter_mut()
            .find(|(part, _, left)| *left > 0 && path.contains(part.as_str()))?;
        entry.2 -= 1;
        Some(entry.1)
    }

    async fn forward(&self, request: Request<Incoming>) -> anyhow::Result<Response<Incoming>> {
        let stream = TcpStream::connect(&self.upstream).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await?)
    }
}

/// `bytes` as a body: whole, or cut after `cut` bytes with an error (hyper then drops the
/// connection), sent in slices of `rate / 20` bytes every 50 ms when `rate > 0`.
fn body_of(bytes: Bytes, cut: Option<usize>, rate: usize) -> ProxyBody {
    let end = cut.unwrap_or(bytes.len());
    let slice = if rate == 0 {
        end.max(1)
    } else {
        (rate / 20).max(1)
    };
    let stream = futures::stream::unfold(0usize, move |sent| {
        let bytes = bytes.clone();
        async move {
            if sent >= end {
                if cut.is_some() && sent != usize::MAX {
                    let reset = std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "injected reset mid-body",
                    );
                    return Some((Err(reset), usize::MAX));
                }
                return None;
            }
            if rate > 0 && sent > 0 {
                tokio::time::sleep(SLICE).await;
            }
            let next = (sent + slice).min(end);
            Some((Ok(Frame::data(bytes.slice(sent..next))), next))
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(text.to_owned()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut answer = Response::new(body);
    *answer.status_mut() = status;
    answer
}
