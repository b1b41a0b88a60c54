//! Container image references (`nginx`, `ghcr.io/foo/bar:1.0`, `repo@sha256:...`), parsed with
//! the grammar of the docker/distribution `reference` package and normalised like
//! `ParseNormalizedNamed`: familiar Docker Hub names gain the `docker.io` domain and, for
//! single-component names, the `library/` namespace.
//!
//! Start at [`ImageReference::parse`]. [`split_tag`] is the purely syntactic split used for
//! NodeImage keys that are already in familiar form.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy domain, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag implied by a reference that has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name (domain and path), in characters.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid image reference. Messages match the Go packages'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The input does not follow the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat,
    /// The repository path contains upper-case letters.
    #[error("invalid reference format: repository name ({repository}) must be lowercase")]
    Uppercase {
        /// The offending repository, as normalised so far (e.g. `library/Nginx`).
        repository: String,
    },
    /// The input would be valid if lower-cased.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// The repository name exceeds [`NAME_TOTAL_LENGTH_MAX`].
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// The input is a bare 64-hex image id, which is not a name.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    /// The digest is malformed (e.g. upper-case or non-hex characters).
    #[error("invalid checksum digest format")]
    DigestInvalidFormat,
    /// The digest's hex part has the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    DigestInvalidLength,
    /// The digest algorithm is not sha256, sha384 or sha512.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
}

const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const IPV6_ADDRESS: &str = r"\[(?:[a-fA-F0-9:]+)\]";
// Go's `\w` is ASCII-only; Rust's is Unicode, so spell the class out.
const TAG: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

fn domain_and_port() -> String {
    let domain_name = format!("{DOMAIN_NAME_COMPONENT}(?:\\.{DOMAIN_NAME_COMPONENT})*");
    format!("(?:{domain_name}|{IPV6_ADDRESS}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let path_component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{path_component}(?:/{path_component})*")
}

/// `^(name)(?::(tag))?(?:@(digest))?$`
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    Regex::new(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$"))
        .expect("reference grammar is a valid regex")
});

/// `^(?:(domain)/)?(path)$`
static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
    .expect("name grammar is a valid regex")
});

static HEX_IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-f0-9]{64}$").expect("identifier regex is valid"));

static DIGEST_LOOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$").expect("digest regex is valid")
});

/// A parsed, normalised image reference.
///
/// Invariants: `domain` is never empty (Docker Hub names get [`DEFAULT_DOMAIN`]); `path` is the
/// lower-case repository path; `tag` and `digest` are as written (both may be present).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageReference {
    /// Parses a reference in familiar or canonical form and normalises it.
    ///
    /// `nginx` becomes domain `docker.io`, path `library/nginx`, no tag. `localhost`, anything
    /// with a `.` or `:` (or upper case) before the first `/` is a registry host. A digest must
    /// be `sha256:` + 64, `sha384:` + 96 or `sha512:` + 128 lower-case hex digits.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if HEX_IDENTIFIER.is_match(input) {
            return Err(ReferenceError::HexIdentifier(input.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(input);
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(r, _)| r);
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase {
                repository: remote.to_owned(),
            });
        }
        parse_canonical(&format!("{domain}/{remainder}"))
    }

    /// The registry host (with port, if any), e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/nginx`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag, or `latest` when none was written.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The digest (`sha256:...`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The full repository name, e.g. `docker.io/library/nginx`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it: `docker.io/` and, for single-component official
    /// images, `library/` are dropped (`nginx`, `foo/bar`); other registries stay
    /// (`ghcr.io/foo/bar`).
    ///
    /// Docker Hub paths whose first component reads as a registry host (`docker.io/localhost/x`,
    /// `docker.io/a.b/x`) keep `docker.io/`: dropped, the name would name another registry. So
    /// does an official image named like an image id (64 hex digits), which would read as one.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        let familiar = match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest,
            _ => &self.path,
        };
        if HEX_IDENTIFIER.is_match(familiar)
            || split_docker_domain(familiar) != (DEFAULT_DOMAIN.to_owned(), self.path.clone())
        {
            return self.name();
        }
        familiar.to_owned()
    }

    /// The familiar name with the tag and digest as written (`nginx`, `nginx:1.9`,
    /// `ghcr.io/foo/bar@sha256:...`); no default tag is added.
    pub fn familiar_string(&self) -> String {
        self.render(self.familiar_name(), false)
    }

    /// The NodeImage key pair: the familiar name and the digest if there is one, otherwise the
    /// tag (defaulting to `latest`). This is how OpenKruise maps a job's image onto
    /// `spec.images[name].tags[].tag`.
    pub fn name_and_tag(&self) -> (String, String) {
        let tag = match &self.digest {
            Some(digest) => digest.clone(),
            None => self.tag_or_latest().to_owned(),
        };
        (self.familiar_name(), tag)
    }

    fn render(&self, name: String, default_tag: bool) -> String {
        let mut out = name;
        match (&self.tag, &self.digest) {
            (None, None) if default_tag => {
                out.push(':');
                out.push_str(DEFAULT_TAG);
            }
            _ => {
                if let Some(tag) = &self.tag {
                    out.push(':');
                    out.push_str(tag);
                }
                if let Some(digest) = &self.digest {
                    out.push('@');
                    out.push_str(digest);
                }
            }
        }
        out
    }
}

/// The canonical form: full name, then `:tag` and/or `@digest`; a reference with neither gets
/// `:latest` (`docker.io/library/nginx:latest`).
impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.name(), true))
    }
}

impl FromStr for ImageReference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits a name into domain and remainder the way `splitDockerDomain` does, adding the Docker
/// Hub defaults.
fn split_docker_domain(name: &str) -> (String, String) {
    let (domain, remainder) = match name.split_once('/') {
        None => {
            return (
                DEFAULT_DOMAIN.to_owned(),
                format!("{OFFICIAL_REPO_PREFIX}{name}"),
            );
        }
        Some((maybe_domain, rest)) => {
            if maybe_domain == "localhost" {
                (maybe_domain, rest)
            } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
                (DEFAULT_DOMAIN, rest)
            } else if maybe_domain.contains(['.', ':'])
                || maybe_domain.to_lowercase() != maybe_domain
            {
                (maybe_domain, rest)
            } else {
                (DEFAULT_DOMAIN, name)
            }
        }
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (
            domain.to_owned(),
            format!("{OFFICIAL_REPO_PREFIX}{remainder}"),
        );
    }
    (domain.to_owned(), remainder.to_owned())
}

/// Parses a reference that already carries its domain (the grammar's `Parse`).
fn parse_canonical(input: &str) -> Result<ImageReference, ReferenceError> {
    let Some(caps) = REFERENCE.captures(input) else {
        if input.to_lowercase() != input && REFERENCE.is_match(&input.to_lowercase()) {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    let name = caps.get(1).map_or("", |m| m.as_str());
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    let name_caps = ANCHORED_NAME
        .captures(name)
        .ok_or(ReferenceError::InvalidFormat)?;
    let domain = name_caps.get(1).map_or("", |m| m.as_str());
    let path = name_caps.get(2).map_or("", |m| m.as_str());
    // The input always starts with a domain; the grammar's domain is optional, so a first
    // component that is no valid host (`a.b_c/x`) would otherwise become part of the path,
    // leaving a reference with no registry (Docker accepts it; nothing can pull it).
    if domain.is_empty() {
        return Err(ReferenceError::InvalidFormat);
    }
    let digest = caps.get(3).map(|m| m.as_str());
    if let Some(digest) = digest {
        validate_digest(digest)?;
    }
    Ok(ImageReference {
        domain: domain.to_owned(),
        path: path.to_owned(),
        tag: caps.get(2).map(|m| m.as_str().to_owned()),
        digest: digest.map(str::to_owned),
    })
}

/// go-digest's `Digest.Validate` for the algorithms a container runtime registers.
fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let (algorithm, encoded) = digest
        .split_once(':')
        .filter(|(a, e)| !a.is_empty() && !e.is_empty())
        .ok_or(ReferenceError::DigestInvalidFormat)?;
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ if DIGEST_LOOSE.is_match(digest) => return Err(ReferenceError::DigestUnsupported),
        _ => return Err(ReferenceError::DigestInvalidFormat),
    };
    if encoded.len() != hex_len {
        return Err(ReferenceError::DigestInvalidLength);
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ReferenceError::DigestInvalidFormat);
    }
    Ok(())
}

/// Splits `image` into repository and tag-or-digest without normalising anything, like
/// OpenKruise's `ParseRepositoryTag`: `nginx:1.9` -> (`nginx`, `1.9`), `repo@sha256:..` ->
/// (`repo`, `sha256:..`), `localhost:5000/foo` -> (`localhost:5000/foo`, `None`).
pub fn split_tag(image: &str) -> (&str, Option<&str>) {
    if let Some((name, digest)) = image.split_once('@') {
        let digest = digest.split_once('@').map_or(digest, |(d, _)| d);
        return (name, Some(digest));
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (image, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn parse(s: &str) -> ImageReference {
        ImageReference::parse(s).unwrap_or_else(|e| panic!("{s} should parse: {e}"))
    }

    #[test]
    fn a_familiar_official_name_is_normalised_onto_docker_hub() {
        let r = parse("nginx");
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/nginx");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), None);
        assert_eq!(r.tag_or_latest(), "latest");
        assert_eq!(r.name(), "docker.io/library/nginx");
        assert_eq!(r.familiar_name(), "nginx");
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        assert_eq!(r.familiar_string(), "nginx");
    }

    #[test]
    fn docker_hub_user_repositories_keep_their_namespace() {
        let r = parse("foo/bar:1.0");
        assert_eq!(r.name(), "docker.io/foo/bar");
        assert_eq!(r.familiar_name(), "foo/bar");
        assert_eq!(r.to_string(), "docker.io/foo/bar:1.0");
        assert_eq!(
            parse("docker.io/library/nginx:1.9").familiar_string(),
            "nginx:1.9"
        );
        assert_eq!(
            parse("index.docker.io/nginx").name(),
            "docker.io/library/nginx"
        );
    }

    #[test]
    fn a_docker_hub_path_that_reads_as_a_registry_keeps_docker_io_in_the_familiar_name() {
        for image in [
            "docker.io/localhost/app",
            "docker.io/a.b/app:v1",
            "docker.io/index.docker.io/x",
            "docker.io/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let r = parse(image);
            assert!(r.familiar_name().starts_with("docker.io/"), "{image}");
            assert_eq!(parse(&r.familiar_string()), r, "{image}");
        }
    }

    #[test]
    fn a_first_component_that_is_neither_a_host_nor_docker_hub_is_refused() {
        assert_eq!(
            ImageReference::parse("gllc.h_h/33"),
            Err(ReferenceError::InvalidFormat)
        );
    }

    #[test]
    fn other_registries_keep_their_domain_in_the_familiar_name() {
        let r = parse("ghcr.io/foo/bar");
        assert_eq!(r.domain(), "ghcr.io");
        assert_eq!(r.path(), "foo/bar");
        assert_eq!(r.familiar_name(), "ghcr.io/foo/bar");
        assert_eq!(r.to_string(), "ghcr.io/foo/bar:latest");
    }

    #[test]
    fn hosts_are_recognised_by_dots_ports_and_localhost() {
        assert_eq!(parse("localhost/foo").domain(), "localhost");
        let r = parse("localhost:5000/foo/bar:v2");
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("localhost:5000", "foo/bar", Some("v2"))
        );
        assert_eq!(parse("127.0.0.1:5000/x").domain(), "127.0.0.1:5000");
        assert_eq!(parse("[::1]:5000/x").domain(), "[::1]:5000");
        assert_eq!(parse("Registry/x").domain(), "Registry");
        assert_eq!(parse("myns/x").domain(), "docker.io");
    }

    #[test]
    fn path_components_accept_the_grammar_separators() {
        for ok in ["a.b/c_d/e__f/g-h/i---j", "a0/1b"] {
            assert!(ImageReference::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a..b", "a___b", "-a", "a-", "a/", "a//b", "a b", "_a"] {
            assert_eq!(
                ImageReference::parse(bad),
                Err(ReferenceError::InvalidFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_allow_word_characters_dots_and_dashes_up_to_128() {
        assert_eq!(parse("nginx:1.9.0-alpine_X").tag(), Some("1.9.0-alpine_X"));
        let longest = format!("nginx:{}", "t".repeat(128));
        assert!(ImageReference::parse(&longest).is_ok());
        let too_long = format!("nginx:{}", "t".repeat(129));
        assert_eq!(
            ImageReference::parse(&too_long),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            ImageReference::parse("nginx:.x"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            ImageReference::parse("nginx:é"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            ImageReference::parse("nginx:"),
            Err(ReferenceError::InvalidFormat)
        );
    }

    #[test]
    fn digests_must_be_known_algorithms_with_exact_lowercase_hex() {
        let r = parse(&format!("repo@{SHA}"));
        assert_eq!(r.digest(), Some(SHA));
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), format!("docker.io/library/repo@{SHA}"));
        let both = parse(&format!("ghcr.io/a/b:v1@{SHA}"));
        assert_eq!(both.tag(), Some("v1"));
        assert_eq!(both.familiar_string(), format!("ghcr.io/a/b:v1@{SHA}"));

        let short = "repo@sha256:7cc4b5aefd1d0cadf8d97d4350462ba5";
        assert_eq!(
            ImageReference::parse(short),
            Err(ReferenceError::DigestInvalidLength)
        );
        let upper = format!("repo@{}", SHA.to_uppercase().replace("SHA256", "sha256"));
        assert_eq!(
            ImageReference::parse(&upper),
            Err(ReferenceError::DigestInvalidFormat)
        );
        let md5 = "repo@md5:7cc4b5aefd1d0cadf8d97d4350462ba5";
        assert_eq!(
            ImageReference::parse(md5),
            Err(ReferenceError::DigestUnsupported)
        );
        assert_eq!(
            ImageReference::parse("repo@sha256:xyz"),
            Err(ReferenceError::InvalidFormat)
        );
    }

    #[test]
    fn uppercase_repositories_are_rejected_as_not_lowercase() {
        let err = ImageReference::parse("Nginx").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid reference format: repository name (library/Nginx) must be lowercase"
        );
        assert!(matches!(
            ImageReference::parse("ghcr.io/Foo/bar"),
            Err(ReferenceError::Uppercase { .. })
        ));
    }

    #[test]
    fn empty_overlong_and_hex_id_inputs_are_rejected() {
        assert_eq!(
            ImageReference::parse(""),
            Err(ReferenceError::InvalidFormat)
        );
        let hex = "a".repeat(64);
        assert_eq!(
            ImageReference::parse(&hex).unwrap_err().to_string(),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
        let long = format!("ghcr.io/{}", "a".repeat(248));
        assert_eq!(long.len(), 256);
        assert_eq!(
            ImageReference::parse(&long),
            Err(ReferenceError::NameTooLong)
        );
        assert!(ImageReference::parse(&long[..255]).is_ok());
    }

    #[test]
    fn the_node_image_key_uses_the_digest_or_the_defaulted_tag() {
        assert_eq!(
            parse("nginx").name_and_tag(),
            ("nginx".into(), "latest".into())
        );
        assert_eq!(
            parse("ghcr.io/a/b:1.0").name_and_tag(),
            ("ghcr.io/a/b".into(), "1.0".into())
        );
        assert_eq!(
            parse(&format!("busybox:1@{SHA}")).name_and_tag(),
            ("busybox".into(), SHA.into())
        );
    }

    #[test]
    fn parsing_through_from_str_matches_parse() {
        let r: ImageReference = "nginx:1".parse().expect("valid");
        assert_eq!(r, parse("nginx:1"));
    }

    #[test]
    fn split_tag_separates_tags_and_digests_without_normalising() {
        assert_eq!(split_tag("nginx:1.9"), ("nginx", Some("1.9")));
        assert_eq!(split_tag(&format!("repo@{SHA}")), ("repo", Some(SHA)));
        assert_eq!(split_tag("nginx"), ("nginx", None));
        assert_eq!(
            split_tag("localhost:5000/foo"),
            ("localhost:5000/foo", None)
        );
        assert_eq!(
            split_tag("localhost:5000/foo:v1"),
            ("localhost:5000/foo", Some("v1"))
        );
    }
}
