//! A tiny but complete container image (Docker schema 2): one gzip layer holding one file, an
//! image config and a manifest, built in memory so a registry can be filled without any image
//! tooling. Containerd pulls and unpacks it like any other image.

use std::io::Write;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

/// `len` bytes that gzip cannot shrink (xorshift), for a layer of a known size on the wire.
pub fn incompressible_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Media type of a Docker schema 2 manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The one file in the image's layer.
pub const PAYLOAD_FILE: &str = "prepull-test-payload";

/// One content-addressed piece of an image: its bytes and `sha256:<hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The bytes as stored in the registry.
    pub bytes: Vec<u8>,
    /// `sha256:<hex of bytes>`.
    pub digest: String,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        let digest = sha256_digest(&bytes);
        Blob { bytes, digest }
    }
}

/// An image ready to be pushed: the layer and config blobs and the manifest naming them.
///
/// Built deterministically: the same payload always gives the same digests, a different payload
/// gives a different image (a re-versioned tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestImage {
    /// The gzip-compressed tar layer.
    pub layer: Blob,
    /// The image config (JSON); its digest is the image id containerd reports.
    pub config: Blob,
    /// The schema 2 manifest (JSON); its digest is what `repo@sha256:...` references name.
    pub manifest: Blob,
}

impl TestImage {
    /// An image whose layer holds [`PAYLOAD_FILE`] with `payload` as its content, for the
    /// machine's architecture and `linux`.
    pub fn with_payload(payload: &[u8]) -> anyhow::Result<TestImage> {
        let tar = layer_tar(payload)?;
        let diff_id = sha256_digest(&tar);
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(&tar)?;
        let layer = Blob::new(gzip.finish()?);

        let config = json!({
            "architecture": oci_architecture(),
            "os": "linux",
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        });
        let config = Blob::new(serde_json::to_vec(&config)?);

        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "size": config.bytes.len(),
                "digest": config.digest,
            },
            "layers": [{
                "mediaType": LAYER_MEDIA_TYPE,
                "size": layer.bytes.len(),
                "digest": layer.digest,
            }],
        });
        let manifest = Blob::new(serde_json::to_vec(&manifest)?);
        Ok(TestImage {
            layer,
            config,
            manifest,
        })
    }

    /// Total bytes a registry serves for this image (manifest, config and layer).
    pub fn size(&self) -> usize {
        self.manifest.bytes.len() + self.config.bytes.len() + self.layer.bytes.len()
    }
}

/// An uncompressed tar with one regular file, [`PAYLOAD_FILE`], fixed mode and mtime.
fn layer_tar(payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(u64::try_from(payload.len())?);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, PAYLOAD_FILE, payload)
        .context("writing the layer tar")?;
    Ok(builder.into_inner()?)
}

/// `sha256:<lowercase hex>` of `bytes`, the digest format of OCI and Docker registries.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = hash
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The machine's architecture in OCI spelling (`amd64`, `arm64`, ...), so containerd's platform
/// matching accepts the image.
fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_same_payload_gives_the_same_digests() {
        let first = TestImage::with_payload(b"one").expect("builds");
        let again = TestImage::with_payload(b"one").expect("builds");
        let other = TestImage::with_payload(b"two").expect("builds");
        assert_eq!(first, again);
        assert_ne!(first.manifest.digest, other.manifest.digest);
        assert_ne!(first.config.digest, other.config.digest);
    }

    #[test]
    fn the_manifest_names_config_and_layer_by_digest_and_size() {
        let image = TestImage::with_payload(b"payload").expect("builds");
        let manifest: serde_json::Value =
            serde_json::from_slice(&image.manifest.bytes).expect("manifest is JSON");
        assert_eq!(manifest["config"]["digest"], image.config.digest);
        assert_eq!(manifest["config"]["size"], image.config.bytes.len());
        assert_eq!(manifest["layers"][0]["digest"], image.layer.digest);
        assert_eq!(manifest["layers"][0]["size"], image.layer.bytes.len());
    }

    #[test]
    fn the_layer_unpacks_to_the_payload_and_matches_the_config_diff_id() {
        let image = TestImage::with_payload(b"hello layer").expect("builds");
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(image.layer.bytes.as_slice())
            .read_to_end(&mut tar)
            .expect("layer is gzip");
        let config: serde_json::Value =
            serde_json::from_slice(&image.config.bytes).expect("config is JSON");
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256_digest(&tar));

        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entry = archive
            .entries()
            .expect("tar entries")
            .next()
            .expect("one entry")
            .expect("readable entry");
        assert_eq!(
            entry.path().expect("path").to_str(),
            Some(PAYLOAD_FILE),
            "file name"
        );
        let mut content = String::new();
        entry.read_to_string(&mut content).expect("file content");
        assert_eq!(content, "hello layer");
    }

    #[test]
    fn digests_are_sha256_in_lowercase_hex() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
