//! A router over a fresh embedded store in a temp dir, driven without sockets: requests go
//! through `tower::ServiceExt::oneshot` with the caller's identity injected as a request
//! extension (as the authentication filter allows for in-process callers).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use prepull_apiserver::auth::UserInfo;
use prepull_apiserver::auth::authorize::StandaloneAuthorizer;
use prepull_apiserver::http::{AppState, router};
use prepull_apiserver::registry::{FeatureGates, Registry, RegistryOptions};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub const JOBS: &str = "/apis/apps.kruise.io/v1alpha1/namespaces/default/imagepulljobs";
pub const NODES: &str = "/apis/apps.kruise.io/v1alpha1/nodeimages";

/// A router with its store; the temp dir goes when dropped.
pub struct Server {
    pub router: Router,
    pub state: AppState,
    pub store: Arc<EmbeddedStore>,
    _dir: TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::with_options(RegistryOptions {
            garbage_collection: false,
            ..RegistryOptions::default()
        })
    }

    pub fn with_feature_gates(feature_gates: FeatureGates) -> Server {
        Server::with_options(RegistryOptions {
            feature_gates,
            garbage_collection: false,
            ..RegistryOptions::default()
        })
    }

    /// A server whose state `tweak` adjusts before the router is built (request limits).
    pub fn start_with(tweak: impl FnOnce(&mut AppState)) -> Server {
        Server::build(
            RegistryOptions {
                garbage_collection: false,
                ..RegistryOptions::default()
            },
            tweak,
        )
    }

    fn with_options(options: RegistryOptions) -> Server {
        Server::build(options, |_| {})
    }

    fn build(options: RegistryOptions, tweak: impl FnOnce(&mut AppState)) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("embedded store"),
        );
        let registry = Registry::new(store.clone(), options);
        let mut state = AppState::new(Arc::new(registry), Arc::new(StandaloneAuthorizer));
        tweak(&mut state);
        Server {
            router: router(state.clone()),
            state,
            store,
            _dir: dir,
        }
    }

    /// Sends `request` as the admin (group `system:masters`).
    pub async fn send(&self, request: Request<Body>) -> Answer {
        self.send_as(admin(), request).await
    }

    /// Sends `request` as `user`.
    pub async fn send_as(&self, user: UserInfo, mut request: Request<Body>) -> Answer {
        request.extensions_mut().insert(user);
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(request(Method::GET, uri, None, "")).await
    }

    pub async fn post_json(&self, uri: &str, body: &Value) -> Answer {
        self.send(request(
            Method::POST,
            uri,
            Some("application/json"),
            &body.to_string(),
        ))
        .await
    }
}

/// The standalone admin.
pub fn admin() -> UserInfo {
    UserInfo::authenticated("admin".into(), vec!["system:masters".into()])
}

/// A request with an optional content type and body.
pub fn request(method: Method, uri: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Body::from(body.to_string())).expect("request")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a Status error with this code and reason, returning the status body.
    pub fn expect_status(&self, code: u16, reason: &str) -> Value {
        assert_eq!(self.status.as_u16(), code, "{}", self.text());
        let status = self.json();
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["status"], "Failure", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert_eq!(status["reason"], reason, "{status}");
        status
    }
}

/// A valid ImagePullJob named `name`.
pub fn job(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ImagePullJob",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "image": "nginx:1.25",
            "completionPolicy": {"type": "Always"}
        }
    })
}

/// A NodeImage named `name`.
pub fn node(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "NodeImage",
        "metadata": {"name": name},
        "spec": {}
    })
}

/// An open watch: its body read line by line.
pub struct WatchReader {
    pub status: StatusCode,
    body: axum::body::BodyDataStream,
    buffer: Vec<u8>,
}

impl WatchReader {
    /// The next event, or `None` when the stream ended; panics after 10 s without one.
    pub async fn next_event(&mut self) -> Option<Value> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("each line is JSON"));
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), self.body.next())
                .await
                .expect("an event within 10 s");
            match chunk {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(err)) => panic!("watch body failed: {err}"),
                None => return None,
            }
        }
    }
}

impl Server {
    /// Opens a watch (as the admin) with `accept`.
    pub async fn watch(&self, uri: &str, accept: Option<&str>) -> WatchReader {
        let mut builder = Request::builder().uri(uri);
        if let Some(accept) = accept {
            builder = builder.header("accept", accept);
        }
        let mut request = builder.body(Body::empty()).expect("request");
        request.extensions_mut().insert(admin());
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        WatchReader {
            status: response.status(),
            body: response.into_body().into_data_stream(),
            buffer: Vec::new(),
        }
    }
}
