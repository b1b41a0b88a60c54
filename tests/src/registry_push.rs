//! Pushing a [`TestImage`] to a registry on loopback over the Docker Registry HTTP API v2:
//! each blob with a two-step upload (POST opens an upload session, PUT with `?digest=` closes
//! it), then the manifest with a PUT under its tag. One HTTP/1.1 connection per request (hyper),
//! each with its own deadline.

use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::test_image::{Blob, MANIFEST_MEDIA_TYPE, TestImage};

/// Deadline of one HTTP exchange with the registry (connect, send, read the whole answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one registry on `127.0.0.1:<port>`, sending basic auth on every request when it
/// has credentials.
#[derive(Debug, Clone)]
pub(crate) struct RegistryPush {
    port: u16,
    authorization: Option<String>,
}

/// One answer: status, headers, whole body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl RegistryPush {
    pub(crate) fn new(port: u16, credentials: Option<(&str, &str)>) -> RegistryPush {
        let authorization = credentials.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        RegistryPush {
            port,
            authorization,
        }
    }

    /// Uploads the image's blobs and puts its manifest under `repository:tag`. Returns the
    /// manifest digest the registry computed, checked against the one we computed.
    pub(crate) async fn push(
        &self,
        repository: &str,
        tag: &str,
        image: &TestImage,
    ) -> anyhow::Result<String> {
        self.upload_blob(repository, &image.layer)
            .await
            .context("uploading the layer")?;
        self.upload_blob(repository, &image.config)
            .await
            .context("uploading the config")?;
        let path = format!("/v2/{repository}/manifests/{tag}");
        let answer = self
            .send(
                Method::PUT,
                &path,
                Some(MANIFEST_MEDIA_TYPE),
                image.manifest.bytes.clone(),
            )
            .await?;
        expect_status(&answer, StatusCode::CREATED, &path)?;
        let digest = header(&answer, "docker-content-digest")?;
        ensure!(
            digest == image.manifest.digest,
            "the registry stored the manifest as {digest}, expected {}",
            image.manifest.digest
        );
        Ok(digest)
    }

    async fn upload_blob(&self, repository: &str, blob: &Blob) -> anyhow::Result<()> {
        let start = format!("/v2/{repository}/blobs/uploads/");
        let answer = self.send(Method::POST, &start, None, Vec::new()).await?;
        expect_status(&answer, StatusCode::ACCEPTED, &start)?;
        let session = path_of(&header(&answer, LOCATION.as_str())?);
        let separator = if session.contains('?') { '&' } else { '?' };
        let finish = format!("{session}{separator}digest={}", blob.digest);
        let answer = self
            .send(
                Method::PUT,
                &finish,
                Some("application/octet-stream"),
                blob.bytes.clone(),
            )
            .await?;
        expect_status(&answer, StatusCode::CREATED, &finish)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let what = format!("{method} {path} on 127.0.0.1:{}", self.port);
        tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.exchange(method, path, content_type, body),
        )
        .await
        .map_err(|_| anyhow!("{what} took longer than {REQUEST_TIMEOUT:?}"))?
        .with_context(|| what)
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, format!("127.0.0.1:{}", self.port))
            .header(CONTENT_LENGTH, body.len());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        connection.abort();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

fn expect_status(answer: &Answer, expected: StatusCode, path: &str) -> anyhow::Result<()> {
    if answer.status == expected {
        Ok(())
    } else {
        bail!(
            "{path}: expected {expected}, got {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim()
        )
    }
}

fn header(answer: &Answer, name: &str) -> anyhow::Result<String> {
    let value = answer
        .headers
        .get(name)
        .ok_or_else(|| anyhow!("the answer has no {name} header"))?;
    Ok(value.to_str()?.to_owned())
}

/// The path and query of an upload `Location`, which the registry may send as an absolute URL
/// (`http://127.0.0.1:<port>/v2/...`) or as a path.
fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_scheme, rest)) => rest
            .find('/')
            .map_or_else(|| String::from("/"), |slash| rest[slash..].to_owned()),
        None => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_upload_location_becomes_a_path_with_its_query() {
        assert_eq!(
            path_of("http://127.0.0.1:5000/v2/app/blobs/uploads/abc?_state=xyz"),
            "/v2/app/blobs/uploads/abc?_state=xyz"
        );
    }

    #[test]
    fn a_relative_upload_location_is_kept() {
        assert_eq!(
            path_of("/v2/app/blobs/uploads/abc"),
            "/v2/app/blobs/uploads/abc"
        );
    }

    #[test]
    fn credentials_become_a_basic_authorization_header() {
        let push = RegistryPush::new(1, Some(("alice", "s3cret")));
        assert_eq!(
            push.authorization.as_deref(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
    }
}
