//! Feature gates: `--feature-gates=ImagePullJobGate=true,...`, parsed as Kubernetes components
//! parse theirs (comma-separated `Name=bool`, Go's boolean spellings, repeated flags merge).
//!
//! An unknown gate or a value that is not a boolean is a configuration error, so a typo stops
//! the server at startup instead of silently running with the default.

use std::fmt;
use std::str::FromStr;

/// A gate this server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// OpenKruise's name. When off, creating or updating ImagePullJob and ImageListPullJob is
    /// refused (403) and no job is scheduled; NodeImage keeps working. On by default, as
    /// OpenKruise's Helm chart sets it.
    ImagePullJobGate,
}

impl Feature {
    /// Every gate, in display order.
    pub const ALL: [Feature; 1] = [Feature::ImagePullJobGate];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Feature::ImagePullJobGate => "ImagePullJobGate",
        }
    }

    /// Whether the gate is on when not set.
    pub fn default_enabled(self) -> bool {
        match self {
            Feature::ImagePullJobGate => true,
        }
    }

    fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    fn index(self) -> usize {
        Feature::ALL
            .iter()
            .position(|f| *f == self)
            .expect("ALL holds every gate")
    }
}

/// A `--feature-gates` value that cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeatureGateError {
    /// The name is not one of [`Feature::ALL`]: fix the spelling or drop the entry.
    #[error("unrecognized feature gate: {0} (known gates: {known})", known = known_gates())]
    Unknown(String),
    /// The entry has no `=value`.
    #[error("missing bool value for feature gate {0}")]
    MissingValue(String),
    /// The value is not a boolean (true, false, 1, 0, t, f in any usual case).
    #[error("invalid value of feature gate {gate}={value}: not a boolean")]
    InvalidValue { gate: String, value: String },
}

fn known_gates() -> String {
    Feature::ALL.map(Feature::name).join(", ")
}

/// The state of every gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    enabled: [bool; Feature::ALL.len()],
}

impl Default for FeatureGates {
    /// Every gate at its default.
    fn default() -> FeatureGates {
        FeatureGates {
            enabled: Feature::ALL.map(Feature::default_enabled),
        }
    }
}

impl FeatureGates {
    /// The defaults overridden by `spec` (`Name=bool,Name=bool`; empty means defaults).
    pub fn parse(spec: &str) -> Result<FeatureGates, FeatureGateError> {
        let mut gates = FeatureGates::default();
        gates.apply(spec)?;
        Ok(gates)
    }

    /// Applies another `--feature-gates` value on top of this one; later entries win. Nothing
    /// changes when `spec` has an error.
    pub fn apply(&mut self, spec: &str) -> Result<(), FeatureGateError> {
        let mut next = self.clone();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, value)) = entry.split_once('=') else {
                return Err(FeatureGateError::MissingValue(entry.to_string()));
            };
            let (name, value) = (name.trim(), value.trim());
            let feature = Feature::from_name(name)
                .ok_or_else(|| FeatureGateError::Unknown(name.to_string()))?;
            let enabled = parse_bool(value).ok_or_else(|| FeatureGateError::InvalidValue {
                gate: name.to_string(),
                value: value.to_string(),
            })?;
            next.set(feature, enabled);
        }
        *self = next;
        Ok(())
    }

    /// Turns a gate on or off.
    pub fn set(&mut self, feature: Feature, enabled: bool) {
        self.enabled[feature.index()] = enabled;
    }

    /// Whether `feature` is on.
    pub fn enabled(&self, feature: Feature) -> bool {
        self.enabled[feature.index()]
    }

    /// Whether ImagePullJob and ImageListPullJob may be created and updated and are scheduled.
    pub fn image_pull_job_gate(&self) -> bool {
        self.enabled(Feature::ImagePullJobGate)
    }
}

/// Go's `strconv.ParseBool` spellings.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl FromStr for FeatureGates {
    type Err = FeatureGateError;

    fn from_str(spec: &str) -> Result<FeatureGates, FeatureGateError> {
        FeatureGates::parse(spec)
    }
}

impl fmt::Display for FeatureGates {
    /// Every gate as `Name=bool`, comma-separated: parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = Feature::ALL
            .iter()
            .map(|g| format!("{}={}", g.name(), self.enabled(*g)))
            .collect();
        f.write_str(&entries.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_pull_job_gate_is_on_by_default() {
        assert!(FeatureGates::default().image_pull_job_gate());
        assert!(FeatureGates::parse("").unwrap().image_pull_job_gate());
    }

    #[test]
    fn gates_are_set_with_go_boolean_spellings_and_surrounding_space() {
        assert!(
            !FeatureGates::parse("ImagePullJobGate=false")
                .unwrap()
                .image_pull_job_gate()
        );
        assert!(
            !FeatureGates::parse(" ImagePullJobGate = 0 ,")
                .unwrap()
                .image_pull_job_gate()
        );
        assert!(
            FeatureGates::parse("ImagePullJobGate=F,ImagePullJobGate=True")
                .unwrap()
                .image_pull_job_gate()
        );
    }

    #[test]
    fn an_unknown_gate_or_a_bad_value_is_an_error_naming_it() {
        let err = FeatureGates::parse("ImagePullJobGate=true,Nope=true").unwrap_err();
        assert_eq!(err, FeatureGateError::Unknown("Nope".into()));
        assert!(err.to_string().contains("known gates: ImagePullJobGate"));
        assert_eq!(
            FeatureGates::parse("ImagePullJobGate=yes").unwrap_err(),
            FeatureGateError::InvalidValue {
                gate: "ImagePullJobGate".into(),
                value: "yes".into()
            }
        );
        assert_eq!(
            FeatureGates::parse("ImagePullJobGate").unwrap_err(),
            FeatureGateError::MissingValue("ImagePullJobGate".into())
        );
    }

    #[test]
    fn a_failed_apply_changes_nothing_and_a_later_flag_wins() {
        let mut gates = FeatureGates::parse("ImagePullJobGate=false").unwrap();
        assert!(gates.apply("ImagePullJobGate=true,Nope=1").is_err());
        assert!(!gates.image_pull_job_gate());
        gates.apply("ImagePullJobGate=true").unwrap();
        assert!(gates.image_pull_job_gate());
    }

    #[test]
    fn display_parses_back_to_the_same_gates() {
        let gates = FeatureGates::parse("ImagePullJobGate=false").unwrap();
        assert_eq!(gates.to_string(), "ImagePullJobGate=false");
        assert_eq!(gates.to_string().parse::<FeatureGates>().unwrap(), gates);
    }
}
