//! Entry points for the fuzz targets in `fuzz/` and for the regression tests that replay
//! their crashers on the stable toolchain (`tests/fuzz_regressions.rs`). Not part of the API:
//! each function takes the fuzzer's bytes, ignores inputs over [`MAX_BODY_BYTES`], and panics
//! when an invariant breaks. They call the registry's own code paths (the write pipeline, the
//! patch documents, server-side apply, the resourceVersion splice), nothing reimplemented.

use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prepull_api::versions::present_value;
use prepull_api::{ApiVersion, Kind};
use serde_json::Value;

use super::apply::ownership::{self, Applier};
use super::field_set::FieldSet;
use super::managed_fields::{self, Recording};
use super::object::Object;
use super::params::{Body, FieldValidation, Patch, Subresource};
use super::patch::PatchDocument;
use super::schema_node::SchemaNode;
use super::write_pipeline::{Admission, Admitted, BodyOrigin, Pipeline, WriteRequest};
use super::{ImageListPullJobStrategy, ImagePullJobStrategy, NodeImageStrategy};

/// Largest input tried: request bodies here are objects of a few KiB; bigger inputs only slow
/// the fuzzer down.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const NAMESPACE: &str = "fuzz";
const MANAGERS: [&str; 4] = ["fuzz", "kubectl", "kubectl-client-side-apply", "other"];

fn now() -> Time {
    Time(Timestamp::from_second(1_800_000_000).expect("a valid time"))
}

/// The kind, version and a third choice that the first input byte selects.
fn choose(byte: u8) -> (Kind, ApiVersion, u8) {
    let kind = Kind::ALL[usize::from(byte % 3)];
    let version = ApiVersion::ALL[usize::from((byte / 3) % 2)];
    (kind, version, byte / 6)
}

fn pipeline(kind: Kind) -> Box<dyn Admission> {
    match kind {
        Kind::ImagePullJob => Box::new(Pipeline::<ImagePullJobStrategy>::new()),
        Kind::ImageListPullJob => Box::new(Pipeline::<ImageListPullJobStrategy>::new()),
        Kind::NodeImage => Box::new(Pipeline::<NodeImageStrategy>::new()),
    }
}

#[allow(clippy::too_many_arguments)]
fn request<'a>(
    kind: Kind,
    body: &'a Body,
    origin: BodyOrigin,
    version: ApiVersion,
    name: Option<&'a str>,
    field_validation: FieldValidation,
    now: &'a Time,
    recording: Recording,
) -> WriteRequest<'a> {
    WriteRequest {
        body,
        origin,
        version,
        namespace: kind.info().namespaced.then_some(NAMESPACE),
        name,
        field_validation,
        manager: "fuzz",
        now,
        recording,
    }
}

/// What every admitted object must survive: it is a stored object the server wrote, so, read
/// back in the request's `version`, (1) when it was just created, created again from those
/// bytes under `fieldValidation=Strict` it is admitted, to the same object but for the fresh
/// uid (decode, defaults and validation agree with each other and defaults are idempotent),
/// and (2) sent back as a no-op update it is admitted unchanged, through the main resource and
/// `/status`. (An updated object is not created again: update validation may let unchanged
/// fields be.)
fn check_admitted(kind: Kind, version: ApiVersion, admitted: &Admitted, context: &str) {
    let stored = &admitted.object;
    if context == "create" {
        check_created_again(kind, version, stored);
    }
    check_no_op_update(kind, version, admitted, context);
}

fn check_created_again(kind: Kind, version: ApiVersion, stored: &Value) {
    let context = "create";
    let admission = pipeline(kind);
    let now = now();
    let mut again = stored.clone();
    present_value(kind, &mut again, version);
    if let Some(Value::Object(meta)) = again.get_mut("metadata") {
        meta.remove("uid");
    }
    let body = Body::Json(Bytes::from(serde_json::to_vec(&again).expect("serializes")));
    let recreated = admission
        .admit_create(&request(
            kind,
            &body,
            BodyOrigin::Request,
            version,
            None,
            FieldValidation::Strict,
            &now,
            Recording::Update,
        ))
        .unwrap_or_else(|e| {
            panic!("{context}: an admitted object is refused when created again: {e:?}\n{stored}")
        });
    let without_uid = |v: &Value| {
        let mut v = v.clone();
        if let Some(Value::Object(meta)) = v.get_mut("metadata") {
            meta.remove("uid");
        }
        v
    };
    assert_eq!(
        without_uid(&recreated.object),
        without_uid(stored),
        "{context}: creating an admitted object again changes it"
    );
}

fn check_no_op_update(kind: Kind, version: ApiVersion, admitted: &Admitted, context: &str) {
    let admission = pipeline(kind);
    let now = now();
    let stored = &admitted.object;
    let mut current = stored.clone();
    if let Some(Value::Object(meta)) = current.get_mut("metadata") {
        meta.insert("resourceVersion".into(), "5".into());
    }
    let mut presented = current.clone();
    present_value(kind, &mut presented, version);
    for subresource in [Subresource::Main, Subresource::Status] {
        let body = Body::Value(presented.clone());
        let updated = admission
            .admit_update(
                &request(
                    kind,
                    &body,
                    BodyOrigin::Request,
                    version,
                    Some(admitted.name.as_str()),
                    FieldValidation::Strict,
                    &now,
                    Recording::Update,
                ),
                &current,
                subresource,
            )
            .unwrap_or_else(|e| {
                panic!(
                    "{context}: a no-op {subresource:?} update of an admitted object is refused: {e:?}\n{stored}"
                )
            });
        assert_eq!(
            updated.object, current,
            "{context}: a no-op {subresource:?} update changes the object"
        );
    }
}

/// Strict decoding of each kind: a create body goes through decode, defaults and validation
/// as the server runs them (the first byte picks kind, version and `fieldValidation`); what
/// is admitted must pass [`check_admitted`].
pub fn decode_kind(data: &[u8]) {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let (kind, version, rest) = choose(first);
    let field_validation = match rest % 3 {
        0 => FieldValidation::Strict,
        1 => FieldValidation::Warn,
        _ => FieldValidation::Ignore,
    };
    let now = now();
    let body = Body::Json(Bytes::copy_from_slice(body));
    let admitted = pipeline(kind).admit_create(&request(
        kind,
        &body,
        BodyOrigin::Request,
        version,
        None,
        field_validation,
        &now,
        Recording::Update,
    ));
    if let Ok(admitted) = admitted {
        check_admitted(kind, version, &admitted, "create");
    }
}

/// Splits `original\0second` into two JSON documents.
fn two_documents(data: &[u8]) -> Option<(Value, &[u8])> {
    let split = data.iter().position(|&b| b == 0)?;
    let first = serde_json::from_slice(&data[..split]).ok()?;
    Some((first, &data[split + 1..]))
}

/// Strategic-merge directive keys anywhere in `value` (other keys may start with `$` too:
/// they are fields).
fn dollar_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$patch"
                    || key == "$retainKeys"
                    || key.starts_with("$setElementOrder/")
                    || key.starts_with("$deleteFromPrimitiveList/")
                {
                    out.push(key.clone());
                }
                dollar_keys(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| dollar_keys(item, out)),
        _ => {}
    }
}

/// JSON patch, merge patch and strategic merge patch: `<choice byte><stored object>\0<patch>`.
/// The patch is parsed and applied as the registry does it, to the stored object presented in
/// the chosen version; the result then goes through the update pipeline. Checks: no panic; a
/// merge patch is idempotent; a strategic merge patch leaves no directive in its result that
/// the object did not already have, and applies again to its own result; an admitted result
/// passes [`check_admitted`].
pub fn patch(data: &[u8]) {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (kind, version, choice) = choose(first);
    let Some((mut stored, patch_bytes)) = two_documents(rest) else {
        return;
    };
    if let Some(Value::Object(meta)) = stored.get_mut("metadata") {
        meta.insert("resourceVersion".into(), "5".into());
    }
    let bytes = Bytes::copy_from_slice(patch_bytes);
    let patch = match choice % 3 {
        0 => Patch::Json(bytes),
        1 => Patch::Merge(bytes),
        _ => Patch::Strategic(bytes),
    };
    let Ok(document) = PatchDocument::parse(&patch) else {
        return;
    };
    let schema = SchemaNode::root(kind, version);
    let mut presented = stored.clone();
    present_value(kind, &mut presented, version);
    let mut patched = presented.clone();
    if document.apply(&mut patched, schema).is_err() {
        return;
    }
    match &document {
        PatchDocument::Merge(_) => {
            let mut twice = patched.clone();
            document
                .apply(&mut twice, schema)
                .expect("merge patches apply");
            assert_eq!(twice, patched, "a merge patch is not idempotent");
        }
        PatchDocument::Strategic(patch) => {
            let (mut before, mut after) = (Vec::new(), Vec::new());
            dollar_keys(&presented, &mut before);
            dollar_keys(&patched, &mut after);
            after.retain(|key| !before.contains(key));
            assert!(
                after.is_empty(),
                "strategic merge left directives {after:?} in\n{patched}\nfrom patch {patch}"
            );
            let mut twice = patched.clone();
            if let Err(e) = document.apply(&mut twice, schema) {
                assert_ne!(
                    e.code.as_u16(),
                    400,
                    "a patch that applied once is malformed: {e:?}"
                );
            }
        }
        PatchDocument::Json(_) => {}
    }
    let name = stored
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let body = Body::Value(patched);
    let now = now();
    let admitted = pipeline(kind).admit_update(
        &request(
            kind,
            &body,
            BodyOrigin::Patch,
            version,
            Some(name.as_str()),
            FieldValidation::Strict,
            &now,
            Recording::Update,
        ),
        &stored,
        Subresource::Main,
    );
    if let Ok(admitted) = admitted {
        check_admitted(kind, version, &admitted, "patch");
    }
}

/// A field set read from `fieldsV1`, written and read again, is a fixed point after one
/// normalisation.
fn check_fields_v1(fields: &Value) {
    let read = FieldSet::from_fields_v1(fields);
    let normal = FieldSet::from_fields_v1(&read.to_fields_v1());
    let again = FieldSet::from_fields_v1(&normal.to_fields_v1());
    assert_eq!(normal, again, "fieldsV1 does not round-trip: {fields}");
    assert_eq!(normal.to_fields_v1(), again.to_fields_v1());
}

/// Server-side apply: `<choice byte><live object>\0<apply configuration>`; the byte picks kind,
/// version, manager, subresource and force. Checks: no panic; every managedFields entry's
/// field set round-trips through `fieldsV1`; a successful apply records exactly the applied
/// fields for the manager, and applying the same configuration again changes nothing and
/// conflicts with nobody; the result goes through the update pipeline as the registry runs it.
pub fn apply(data: &[u8]) {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (kind, version, choice) = choose(first);
    let Some((mut live, config_bytes)) = two_documents(rest) else {
        return;
    };
    let Ok(config) = serde_json::from_slice::<Value>(config_bytes) else {
        return;
    };
    // Lives are stored objects (or `{}` for a create); configurations pass the registry's
    // own check first.
    if !live.is_object()
        || live.get("metadata").is_some_and(|m| !m.is_object())
        || super::apply::check_config(&config).is_err()
    {
        return;
    }
    if let Some(Value::Object(meta)) = live.get_mut("metadata") {
        meta.insert("resourceVersion".into(), "5".into());
    }
    let stored = live.clone();
    present_value(kind, &mut live, version);
    let applier = Applier {
        manager: MANAGERS[usize::from(choice % 4)],
        api_version: version.api_version(),
        subresource: if choice & 4 == 0 {
            Subresource::Main
        } else {
            Subresource::Status
        },
        force: choice & 8 != 0,
        schema: SchemaNode::root(kind, version),
    };
    let entries = live
        .pointer("/metadata/managedFields")
        .cloned()
        .map(managed_fields::entries_of)
        .unwrap_or_default();
    for entry in &entries {
        if let Some(fields) = &entry.fields_v1 {
            check_fields_v1(&fields.0);
        }
    }
    let now = now();
    let Ok(result) = ownership::apply(&live, &config, &applier, &now) else {
        return;
    };
    assert!(result.is_object(), "apply made a non-object: {result}");
    let applied = FieldSet::applied(&config, applier.subresource, applier.schema);
    let entries = result
        .pointer("/metadata/managedFields")
        .cloned()
        .map(managed_fields::entries_of)
        .unwrap_or_default();
    let mine: Vec<_> = entries
        .iter()
        .filter(|e| {
            e.manager.as_deref() == Some(applier.manager)
                && e.operation.as_deref() == Some("Apply")
                && e.subresource.as_deref().unwrap_or_default() == applier.subresource.as_str()
        })
        .collect();
    if applied.is_empty() {
        assert!(mine.is_empty(), "an empty apply left an entry");
    } else {
        assert_eq!(mine.len(), 1, "one Apply entry per manager: {result}");
        assert_eq!(
            managed_fields::fields_of(mine[0]),
            applied,
            "the manager's entry is not what it applied"
        );
    }
    let unforced = Applier {
        force: false,
        ..applier
    };
    let again = ownership::apply(&result, &config, &unforced, &now)
        .unwrap_or_else(|c| panic!("applying again conflicts: {}\n{result}", c.message()));
    assert_eq!(
        again, result,
        "applying the same configuration again changes the object"
    );

    let name = stored
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let managed = result.pointer("/metadata/managedFields").cloned();
    let mut body_value = result;
    if let Some(Value::Object(meta)) = body_value.get_mut("metadata") {
        meta.remove("managedFields");
        if let Some(managed) = managed {
            meta.insert("managedFields".into(), managed);
        }
    }
    let body = Body::Value(body_value);
    let _ = pipeline(kind).admit_update(
        &request(
            kind,
            &body,
            BodyOrigin::Patch,
            version,
            Some(name.as_str()),
            FieldValidation::Strict,
            &now,
            Recording::AsGiven,
        ),
        &stored,
        applier.subresource,
    );
}

/// The resourceVersion splice of lists and watches: `<up to 8 bytes of revision>\0<stored
/// bytes>`. When the splice succeeds, the result is valid JSON equal to the stored bytes
/// parsed, with `metadata.resourceVersion` set to the revision; it succeeds for every stored
/// JSON object whose `metadata` is an object.
pub fn splice_resource_version(data: &[u8]) {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let split = data.iter().take(9).position(|&b| b == 0).unwrap_or(0);
    let mut revision_bytes = [0u8; 8];
    revision_bytes[..split].copy_from_slice(&data[..split]);
    let revision = u64::from_le_bytes(revision_bytes);
    let stored = &data[(split + 1).min(data.len())..];
    let parsed = serde_json::from_slice::<Value>(stored).ok();
    // The contract: stored bytes never carry a resourceVersion (the revision is stored
    // instead). Duplicate `metadata` keys may be refused.
    let has_resource_version = parsed
        .as_ref()
        .and_then(|v| v.get("metadata"))
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key("resourceVersion"));
    let one_metadata = stored.windows(10).filter(|w| w == b"\"metadata\"").count() <= 1;
    let splicable = one_metadata
        && !has_resource_version
        && parsed
            .as_ref()
            .is_some_and(|v| v.get("metadata").is_some_and(Value::is_object));
    match Object::from_stored(stored, "/fuzz", revision) {
        Ok(object) => {
            let spliced: Value = serde_json::from_slice(object.bytes()).unwrap_or_else(|e| {
                panic!(
                    "the splice made invalid JSON ({e}): {:?}",
                    String::from_utf8_lossy(object.bytes())
                )
            });
            let mut expected = parsed.expect("the splice accepted bytes that do not parse");
            if !has_resource_version {
                super::object::set_resource_version(&mut expected, revision);
                assert_eq!(spliced, expected, "the splice changed the object");
                assert_eq!(object.resource_version(), revision.to_string());
            }
        }
        Err(e) => assert!(
            !splicable,
            "the splice refused a stored object with metadata: {e:?}"
        ),
    }
}
