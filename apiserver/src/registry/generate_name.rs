//! `metadata.generateName`: the server picks the name as the prefix plus a random suffix.

/// Characters of the suffix: Kubernetes' alphabet, without vowels (no accidental words) and
/// without look-alikes (0/o, 1/l).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Length of the random suffix.
const SUFFIX_LENGTH: usize = 5;

/// Longest name Kubernetes generates: a DNS-1123 label (63) minus the suffix.
const MAX_PREFIX_LENGTH: usize = 63 - SUFFIX_LENGTH;

/// How many names a create tries before giving up with AlreadyExists (kube-apiserver's
/// `maxNameGenerationCreateAttempts`).
pub(crate) const MAX_ATTEMPTS: usize = 8;

/// A name for an object created with `generateName: prefix`: the prefix (cut to 58 bytes) and
/// five random characters.
pub(crate) fn generate_name(prefix: &str) -> String {
    let mut cut = prefix.len().min(MAX_PREFIX_LENGTH);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + SUFFIX_LENGTH);
    name.push_str(&prefix[..cut]);
    for _ in 0..SUFFIX_LENGTH {
        name.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_name_is_the_prefix_and_five_characters_of_the_alphabet() {
        let name = generate_name("job-");
        assert_eq!(name.len(), 9);
        assert!(name.starts_with("job-"));
        assert!(name[4..].bytes().all(|b| ALPHABET.contains(&b)), "{name}");
    }

    #[test]
    fn a_long_prefix_is_cut_so_the_name_stays_a_label() {
        let name = generate_name(&"a".repeat(100));
        assert_eq!(name.len(), 63);
    }

    #[test]
    fn generated_names_differ() {
        let names: std::collections::BTreeSet<String> =
            (0..50).map(|_| generate_name("x-")).collect();
        assert!(names.len() > 45);
    }
}
