//! Query parameters each operation takes, as published in the OpenAPI documents.
//!
//! kubectl reads them: it sends `fieldValidation` only when the PATCH operation of a kind
//! lists it (otherwise it validates on the client), so these lists are part of the contract
//! with the handlers, not decoration.

/// The JSON type of a parameter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Boolean,
    Integer,
}

impl ParamType {
    /// The OpenAPI `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Boolean => "boolean",
            ParamType::Integer => "integer",
        }
    }
}

/// One query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    pub type_: ParamType,
    pub description: &'static str,
}

const fn param(name: &'static str, type_: ParamType, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        type_,
        description,
    }
}

use ParamType::{Boolean, Integer, String};

pub const PRETTY: QueryParam = param(
    "pretty",
    String,
    "If 'true', the response body is indented for people to read.",
);

pub const DRY_RUN: QueryParam = param(
    "dryRun",
    String,
    "'All' processes the request fully (defaults, validation) without persisting anything. No other value is accepted.",
);
pub const FIELD_MANAGER: QueryParam = param(
    "fieldManager",
    String,
    "Name of the actor making the change, recorded in metadata.managedFields. Defaults to the User-Agent prefix. At most 128 printable characters.",
);
pub const FIELD_VALIDATION: QueryParam = param(
    "fieldValidation",
    String,
    "What to do with unknown or duplicate fields in the body: 'Ignore' drops them, 'Warn' (the default) drops them and answers with a Warning header per field, 'Strict' fails the request with 400 BadRequest naming every such field.",
);
pub const FORCE: QueryParam = param(
    "force",
    Boolean,
    "Take over fields owned by other managers. Only meaningful for apply patches.",
);

pub const RESOURCE_VERSION: QueryParam = param(
    "resourceVersion",
    String,
    "Read at this resourceVersion: unset means the most recent state, '0' any cached state, a number state at least that recent (exactly that one with resourceVersionMatch=Exact). For watches, start after this version.",
);
pub const RESOURCE_VERSION_MATCH: QueryParam = param(
    "resourceVersionMatch",
    String,
    "How resourceVersion applies to a list: 'NotOlderThan' or 'Exact'. Requires resourceVersion.",
);
pub const LABEL_SELECTOR: QueryParam = param(
    "labelSelector",
    String,
    "Only objects whose labels match this selector (e.g. 'app=web,tier!=db').",
);
pub const FIELD_SELECTOR: QueryParam = param(
    "fieldSelector",
    String,
    "Only objects whose fields match this selector; metadata.name and metadata.namespace are supported.",
);
pub const LIMIT: QueryParam = param(
    "limit",
    Integer,
    "Return at most this many objects, with a continue token in the list metadata when more remain.",
);
pub const CONTINUE: QueryParam = param(
    "continue",
    String,
    "The token from a previous limited list, to get the next page of the same consistent read. Expires (410 Gone) when that version has been compacted.",
);
pub const WATCH: QueryParam = param(
    "watch",
    Boolean,
    "Stream added, modified and deleted events instead of returning a list.",
);
pub const ALLOW_WATCH_BOOKMARKS: QueryParam = param(
    "allowWatchBookmarks",
    Boolean,
    "Let the watch send BOOKMARK events that only carry a newer resourceVersion.",
);
pub const SEND_INITIAL_EVENTS: QueryParam = param(
    "sendInitialEvents",
    Boolean,
    "Begin the watch with an ADDED event per existing object, then a BOOKMARK annotated k8s.io/initial-events-end. Requires resourceVersionMatch=NotOlderThan.",
);
pub const TIMEOUT_SECONDS: QueryParam = param(
    "timeoutSeconds",
    Integer,
    "End the list or watch call after this many seconds.",
);

pub const GRACE_PERIOD_SECONDS: QueryParam = param(
    "gracePeriodSeconds",
    Integer,
    "Accepted for compatibility; these objects are deleted without a grace period.",
);
pub const PROPAGATION_POLICY: QueryParam = param(
    "propagationPolicy",
    String,
    "How dependents are garbage collected: 'Orphan', 'Background' or 'Foreground'.",
);

/// Parameters of a read.
pub const GET: &[QueryParam] = &[RESOURCE_VERSION];

/// Parameters of a list or watch of a collection.
pub const LIST: &[QueryParam] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];

/// Parameters of a create or replace.
pub const WRITE: &[QueryParam] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];

/// Parameters of a patch.
pub const PATCH: &[QueryParam] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];

/// Parameters of a delete.
pub const DELETE: &[QueryParam] = &[DRY_RUN, GRACE_PERIOD_SECONDS, PROPAGATION_POLICY];

/// Parameters of a delete of a collection: which objects, and how each is deleted.
pub const DELETE_COLLECTION: &[QueryParam] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    LABEL_SELECTOR,
    LIMIT,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];
