//! The listener bounds what a client can hold: a connection that never finishes its request
//! headers is closed after the header-read timeout, and connections past the cap are closed
//! as soon as they are accepted. Real sockets and TLS on loopback.

use std::sync::Arc;
use std::time::Duration;

use prepull_apiserver::serve::{ServingConfig, serve_on, server_tls_config};
use prepull_apiserver::standalone::pki::Pki;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::support::Server;

/// A served router and how to reach it over TLS.
struct Served {
    addr: std::net::SocketAddr,
    connector: TlsConnector,
    _server: Server,
    _dir: tempfile::TempDir,
}

async fn serve(header_read_timeout: Duration, max_connections: usize) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = Pki::ensure(dir.path(), &[]).expect("pki");
    let tls = server_tls_config(
        &pki.serving.cert_pem,
        &pki.serving.key_pem,
        Some(&pki.ca.cert_pem),
    )
    .expect("tls");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = ServingConfig {
        addr,
        tls,
        http2_max_streams: 1000,
        max_connections,
        header_read_timeout,
        shutdown_timeout: Duration::from_secs(1),
    };
    let server = Server::start();
    let router = server.router.clone();
    tokio::spawn(serve_on(listener, config, router, std::future::pending()));
    let ca = CertificateDer::from_pem_slice(pki.ca.cert_pem.as_bytes()).expect("ca");
    let client = prepull_testbed::tls_client_config(&[ca], None).expect("client");
    Served {
        addr,
        connector: TlsConnector::from(Arc::<rustls::ClientConfig>::clone(&client)),
        _server: server,
        _dir: dir,
    }
}

impl Served {
    async fn connect(&self) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("localhost").expect("a name");
        self.connector.connect(name, tcp).await
    }
}

/// Reads until the peer closes (or fails the connection); how long that took.
async fn time_until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after 20 s"),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let served = serve(Duration::from_secs(1), 16).await;
    let mut slow = served.connect().await.expect("handshake");
    slow.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("partial headers");
    let waited = time_until_closed(&mut slow).await;
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );

    // An idle keep-alive connection after a complete request is closed the same way.
    let mut idle = served.connect().await.expect("handshake");
    idle.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("a request");
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 200");
    time_until_closed(&mut idle).await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let served = serve(Duration::from_secs(30), 2).await;
    let _first = served.connect().await.expect("first");
    let _second = served.connect().await.expect("second");
    let third = served.connect().await;
    match third {
        Err(_) => {}
        Ok(mut stream) => {
            let waited = time_until_closed(&mut stream).await;
            assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
        }
    }
    drop(_first);
    // A seat frees once a connection ends.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(mut stream) = served.connect().await
            && stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .is_ok()
        {
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).await.is_ok() {
                again = Some(head);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again.as_ref().map(|h| &h[..]), Some(&b"HTTP/1.1 200"[..]));
}
