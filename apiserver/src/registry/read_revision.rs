//! `resourceVersion` semantics of get, list and watch, and Kubernetes' rules for combining it
//! with `resourceVersionMatch`, `continue` and `sendInitialEvents` (apimachinery's
//! `ValidateListOptions`, 422 on `ListOptions.meta.k8s.io`).

use prepull_api::field_error::{FieldError, FieldPath};
use prepull_storage::Revision;

use super::errors;
use super::params::{ListParams, WatchParams};
use crate::http::status::ApiError;

const NOT_OLDER_THAN: &str = "NotOlderThan";
const EXACT: &str = "Exact";

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadRevision {
    /// `resourceVersion` unset: the most recent state (a consistent read).
    #[default]
    Latest,
    /// `resourceVersion=0`: any state the server has at hand.
    Any,
    /// `resourceVersion=N`: a state at least as new as N.
    NotOlderThan(Revision),
    /// `resourceVersion=N&resourceVersionMatch=Exact` (lists only): the state at N.
    Exact(Revision),
}

impl ReadRevision {
    /// The freshness of a get: `?resourceVersion=` unset, `0` or N (not older than N).
    pub fn for_get(resource_version: Option<&str>) -> Result<ReadRevision, ApiError> {
        Ok(match parse(resource_version)? {
            Given::Unset => ReadRevision::Latest,
            Given::Zero => ReadRevision::Any,
            Given::Revision(n) => ReadRevision::NotOlderThan(n),
        })
    }
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchStart {
    /// ADDED events for the objects of a list read with this freshness, then the changes
    /// after that list; with `end_bookmark`, a BOOKMARK marks the end of the ADDED events.
    InitialEvents {
        read: ReadRevision,
        end_bookmark: bool,
    },
    /// Only changes after this revision (`None`: after the current one).
    After(Option<Revision>),
}

enum Given {
    Unset,
    Zero,
    Revision(Revision),
}

fn parse(resource_version: Option<&str>) -> Result<Given, ApiError> {
    match resource_version.unwrap_or_default() {
        "" => Ok(Given::Unset),
        text => match text.parse::<Revision>() {
            Ok(0) => Ok(Given::Zero),
            Ok(n) => Ok(Given::Revision(n)),
            Err(_) => Err(ApiError::bad_request(format!(
                "invalid resource version: {text:?}"
            ))),
        },
    }
}

/// Checks a list's options and returns the freshness to read at (ignored when continuing:
/// the token carries its revision).
pub(crate) fn for_list(params: &ListParams) -> Result<ReadRevision, ApiError> {
    let rv = params.resource_version.as_deref().unwrap_or_default();
    let has_continue = params
        .continue_token
        .as_deref()
        .is_some_and(|c| !c.is_empty());
    let path = FieldPath::new("resourceVersionMatch");
    let mut problems = Vec::new();
    let rv_match = params.resource_version_match.as_deref().unwrap_or_default();
    if !rv_match.is_empty() {
        if rv.is_empty() {
            problems.push(FieldError::forbidden(
                &path,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if has_continue {
            problems.push(FieldError::forbidden(
                &path,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if rv_match != EXACT && rv_match != NOT_OLDER_THAN {
            problems.push(FieldError::not_supported(
                &path,
                rv_match,
                &[EXACT, NOT_OLDER_THAN, ""],
            ));
        }
        if rv_match == EXACT && rv == "0" {
            problems.push(FieldError::forbidden(
                &path,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if params.send_initial_events.is_some() {
        problems.push(FieldError::forbidden(
            &FieldPath::new("sendInitialEvents"),
            "sendInitialEvents is forbidden for list",
        ));
    }
    if !problems.is_empty() {
        return Err(errors::invalid_options("ListOptions", &problems));
    }
    let given = parse(params.resource_version.as_deref())?;
    if has_continue && matches!(given, Given::Revision(_)) {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    Ok(match given {
        Given::Unset => ReadRevision::Latest,
        Given::Zero => ReadRevision::Any,
        Given::Revision(n) if rv_match == EXACT => ReadRevision::Exact(n),
        Given::Revision(n) => ReadRevision::NotOlderThan(n),
    })
}

/// Checks a watch's options and returns where it starts.
pub(crate) fn for_watch(params: &WatchParams) -> Result<WatchStart, ApiError> {
    let path = FieldPath::new("resourceVersionMatch");
    let rv_match = params.resource_version_match.as_deref().unwrap_or_default();
    let mut problems = Vec::new();
    if params.send_initial_events.is_some() && rv_match != NOT_OLDER_THAN {
        problems.push(FieldError::forbidden(
            &path,
            format!("sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"),
        ));
    }
    if !rv_match.is_empty() {
        if params.send_initial_events.is_none() {
            problems.push(FieldError::forbidden(
                &path,
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if rv_match != NOT_OLDER_THAN {
            problems.push(FieldError::not_supported(
                &path,
                rv_match,
                &[NOT_OLDER_THAN],
            ));
        }
    }
    if !problems.is_empty() {
        return Err(errors::invalid_options("ListOptions", &problems));
    }
    let given = parse(params.resource_version.as_deref())?;
    Ok(match (params.send_initial_events, given) {
        (Some(true), given) => WatchStart::InitialEvents {
            read: match given {
                Given::Unset => ReadRevision::Latest,
                Given::Zero => ReadRevision::Any,
                Given::Revision(n) => ReadRevision::NotOlderThan(n),
            },
            end_bookmark: params.allow_bookmarks,
        },
        (Some(false), Given::Revision(n)) | (None, Given::Revision(n)) => {
            WatchStart::After(Some(n))
        }
        (Some(false), _) => WatchStart::After(None),
        (None, Given::Unset) => WatchStart::InitialEvents {
            read: ReadRevision::Latest,
            end_bookmark: false,
        },
        (None, Given::Zero) => WatchStart::InitialEvents {
            read: ReadRevision::Any,
            end_bookmark: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rv: &str, rv_match: &str) -> ListParams {
        ListParams {
            resource_version: Some(rv.into()).filter(|s: &String| !s.is_empty()),
            resource_version_match: Some(rv_match.into()).filter(|s: &String| !s.is_empty()),
            ..ListParams::default()
        }
    }

    #[test]
    fn list_resource_versions_map_to_kubernetes_semantics() {
        assert_eq!(for_list(&list("", "")).unwrap(), ReadRevision::Latest);
        assert_eq!(for_list(&list("0", "")).unwrap(), ReadRevision::Any);
        assert_eq!(
            for_list(&list("7", "")).unwrap(),
            ReadRevision::NotOlderThan(7)
        );
        assert_eq!(
            for_list(&list("7", "NotOlderThan")).unwrap(),
            ReadRevision::NotOlderThan(7)
        );
        assert_eq!(
            for_list(&list("7", "Exact")).unwrap(),
            ReadRevision::Exact(7)
        );
    }

    #[test]
    fn broken_list_option_combinations_are_invalid_list_options() {
        let err = for_list(&list("", "Exact")).unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
        );
        let err = for_list(&list("0", "Exact")).unwrap_err();
        assert!(
            err.message
                .contains("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
        );
        let err = for_list(&list("3", "Newest")).unwrap_err();
        assert!(
            err.message.contains("Unsupported value: \"Newest\""),
            "{}",
            err.message
        );
        let err = for_list(&list("abc", "")).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        let continuing = ListParams {
            continue_token: Some("token".into()),
            resource_version: Some("5".into()),
            ..ListParams::default()
        };
        assert_eq!(
            for_list(&continuing).unwrap_err().message,
            "specifying resource version is not allowed when using continue"
        );
    }

    #[test]
    fn watch_starts_follow_the_legacy_and_watch_list_rules() {
        let watch = |rv: Option<&str>, send: Option<bool>, rv_match: Option<&str>| WatchParams {
            resource_version: rv.map(Into::into),
            send_initial_events: send,
            resource_version_match: rv_match.map(Into::into),
            allow_bookmarks: true,
            ..WatchParams::default()
        };
        assert_eq!(
            for_watch(&watch(None, None, None)).unwrap(),
            WatchStart::InitialEvents {
                read: ReadRevision::Latest,
                end_bookmark: false
            }
        );
        assert_eq!(
            for_watch(&watch(Some("0"), None, None)).unwrap(),
            WatchStart::InitialEvents {
                read: ReadRevision::Any,
                end_bookmark: false
            }
        );
        assert_eq!(
            for_watch(&watch(Some("9"), None, None)).unwrap(),
            WatchStart::After(Some(9))
        );
        assert_eq!(
            for_watch(&watch(None, Some(true), Some("NotOlderThan"))).unwrap(),
            WatchStart::InitialEvents {
                read: ReadRevision::Latest,
                end_bookmark: true
            }
        );
        assert_eq!(
            for_watch(&watch(None, Some(false), Some("NotOlderThan"))).unwrap(),
            WatchStart::After(None)
        );
        let err = for_watch(&watch(None, Some(true), None)).unwrap_err();
        assert!(
            err.message.contains(
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            )
        );
        let err = for_watch(&watch(Some("1"), None, Some("NotOlderThan"))).unwrap_err();
        assert!(err.message.contains(
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        ));
    }

    #[test]
    fn get_resource_versions_are_latest_any_or_not_older_than() {
        assert_eq!(ReadRevision::for_get(None).unwrap(), ReadRevision::Latest);
        assert_eq!(ReadRevision::for_get(Some("0")).unwrap(), ReadRevision::Any);
        assert_eq!(
            ReadRevision::for_get(Some("12")).unwrap(),
            ReadRevision::NotOlderThan(12)
        );
        assert_eq!(
            ReadRevision::for_get(Some("x")).unwrap_err().code.as_u16(),
            400
        );
    }
}
