//! Which nodes a job targets, from its selector and the node inventory.

use std::collections::BTreeSet;

use prepull_api::job_template::ImagePullJobTemplate;
use prepull_api::label_selector;

use super::node_source::{Node, NodeSource};

/// The names of the nodes `template` (of a job in `namespace`) targets, sorted, or `None` while
/// they cannot be known yet (a `podSelector` whose Pods are still being listed). A
/// `podSelector` targets the nodes of its matching Pods that are in the inventory; any other
/// selector is [`target_nodes`] over the inventory.
pub fn resolve_targets(
    template: &ImagePullJobTemplate,
    namespace: &str,
    source: &dyn NodeSource,
) -> Option<BTreeSet<String>> {
    let nodes = source.nodes();
    let Some(pod_selector) = &template.pod_selector else {
        return Some(target_nodes(template, &nodes));
    };
    let mut with_pods = source.pod_selector_nodes(namespace, &pod_selector.label_selector)?;
    let known: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    with_pods.retain(|name| known.contains(name.as_str()));
    Some(with_pods)
}

/// Whether `template` (of a job in `namespace`) targets the node `name`, or `None` while that
/// cannot be known yet: [`resolve_targets`] for one node, without listing the others.
pub fn targets_node(
    template: &ImagePullJobTemplate,
    namespace: &str,
    name: &str,
    source: &dyn NodeSource,
) -> Option<bool> {
    let Some(node) = source.node(name) else {
        return Some(false);
    };
    match &template.pod_selector {
        Some(pod_selector) => Some(
            source
                .pod_selector_nodes(namespace, &pod_selector.label_selector)?
                .contains(name),
        ),
        None => Some(!target_nodes(template, std::slice::from_ref(&node)).is_empty()),
    }
}

/// The names of the nodes among `nodes` that `template` selects, sorted: `selector.names`
/// (names with no node skipped), a label selector over node labels (the empty selector
/// matches every node), or every node when there is no selector. `podSelector` is resolved
/// by the caller (it needs Pods).
pub fn target_nodes(template: &ImagePullJobTemplate, nodes: &[Node]) -> BTreeSet<String> {
    let Some(selector) = &template.selector else {
        return nodes.iter().map(|n| n.name.clone()).collect();
    };
    if let Some(names) = &selector.names {
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        return nodes
            .iter()
            .filter(|n| wanted.contains(n.name.as_str()))
            .map(|n| n.name.clone())
            .collect();
    }
    nodes
        .iter()
        .filter(|n| label_selector::matches(&selector.label_selector, &n.labels))
        .map(|n| n.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use prepull_api::job_template::ImagePullJobNodeSelector;

    use super::*;

    fn node(name: &str, zone: &str) -> Node {
        Node {
            name: name.into(),
            labels: BTreeMap::from([("zone".to_owned(), zone.to_owned())]),
        }
    }

    fn with_selector(selector: ImagePullJobNodeSelector) -> ImagePullJobTemplate {
        ImagePullJobTemplate {
            selector: Some(selector),
            ..ImagePullJobTemplate::default()
        }
    }

    #[test]
    fn names_labels_empty_and_missing_selectors_pick_their_nodes() {
        let nodes = [node("a", "x"), node("b", "y"), node("c", "x")];
        let all = BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()]);
        assert_eq!(target_nodes(&ImagePullJobTemplate::default(), &nodes), all);
        let names = with_selector(ImagePullJobNodeSelector {
            names: Some(vec!["b".into(), "missing".into()]),
            ..ImagePullJobNodeSelector::default()
        });
        assert_eq!(
            target_nodes(&names, &nodes),
            BTreeSet::from(["b".to_owned()])
        );
        let labels = with_selector(ImagePullJobNodeSelector {
            label_selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("zone".into(), "x".into())])),
                ..LabelSelector::default()
            },
            ..ImagePullJobNodeSelector::default()
        });
        assert_eq!(
            target_nodes(&labels, &nodes),
            BTreeSet::from(["a".to_owned(), "c".to_owned()])
        );
        let empty = with_selector(ImagePullJobNodeSelector {
            label_selector: LabelSelector {
                match_labels: Some(BTreeMap::new()),
                ..LabelSelector::default()
            },
            ..ImagePullJobNodeSelector::default()
        });
        assert_eq!(target_nodes(&empty, &nodes), all);
    }
}
