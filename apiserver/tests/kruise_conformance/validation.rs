//! The same bad objects sent to OpenKruise (its CRD schema and webhook) and to Prepull, and
//! what each answers. The expected verdicts are the table in the README ("Validation, side by
//! side"); a changed verdict on either side fails the test.

use prepull_testbed::Kubectl;

/// One bad (or questionable) object and whether each system refuses it.
pub struct Case {
    pub name: &'static str,
    pub kruise_refuses: bool,
    pub ours_refuses: bool,
}

const IPJ: &str = "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: NAME\n  namespace: default\n";
const ILPJ: &str = "apiVersion: apps.kruise.io/v1alpha1\nkind: ImageListPullJob\nmetadata:\n  name: NAME\n  namespace: default\n";

/// Every case with its manifest (`NAME` is replaced by a unique object name), in README order.
pub fn cases() -> Vec<(Case, String)> {
    let job = |body: &str| format!("{IPJ}{body}");
    let list = |body: &str| format!("{ILPJ}{body}");
    vec![
        (
            Case {
                name: "no spec.image",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  parallelism: 1\n"),
        ),
        (
            Case {
                name: "spec.image not a reference (`Bad Image!`)",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: \"Bad Image!\"\n"),
        ),
        (
            Case {
                name: "selector.names with matchLabels",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job(
                "spec:\n  image: example.invalid/a:v1\n  selector:\n    names: [node-1]\n    matchLabels: {zone: a}\n",
            ),
        ),
        (
            Case {
                name: "duplicate selector.names",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  selector:\n    names: [node-1, node-1]\n"),
        ),
        (
            Case {
                name: "selector with podSelector",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job(
                "spec:\n  image: example.invalid/a:v1\n  selector:\n    names: [node-1]\n  podSelector:\n    matchLabels: {app: a}\n",
            ),
        ),
        (
            Case {
                name: "matchExpressions operator `Near`",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job(
                "spec:\n  image: example.invalid/a:v1\n  selector:\n    matchExpressions:\n    - {key: zone, operator: Near, values: [a]}\n",
            ),
        ),
        (
            Case {
                name: "parallelism `50%`",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  parallelism: \"50%\"\n"),
        ),
        (
            Case {
                name: "completionPolicy Never with activeDeadlineSeconds",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job(
                "spec:\n  image: example.invalid/a:v1\n  completionPolicy:\n    type: Never\n    activeDeadlineSeconds: 1200\n",
            ),
        ),
        (
            Case {
                name: "activeDeadlineSeconds 100 below the default timeoutSeconds 600",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job(
                "spec:\n  image: example.invalid/a:v1\n  completionPolicy:\n    type: Always\n    activeDeadlineSeconds: 100\n",
            ),
        ),
        (
            Case {
                name: "completionPolicy type `Sometimes`",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  completionPolicy:\n    type: Sometimes\n"),
        ),
        (
            Case {
                name: "imagePullPolicy `Sometimes`",
                kruise_refuses: false,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  imagePullPolicy: Sometimes\n"),
        ),
        (
            Case {
                name: "pullPolicy.timeoutSeconds 0",
                kruise_refuses: false,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  pullPolicy:\n    timeoutSeconds: 0\n"),
        ),
        (
            Case {
                name: "pullPolicy.backoffLimit -1",
                kruise_refuses: false,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  pullPolicy:\n    backoffLimit: -1\n"),
        ),
        (
            Case {
                name: "unknown field spec.colour (kubectl's Strict)",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  colour: blue\n"),
        ),
        (
            Case {
                name: "spec.parallelism of the wrong type (`true`)",
                kruise_refuses: true,
                ours_refuses: true,
            },
            job("spec:\n  image: example.invalid/a:v1\n  parallelism: true\n"),
        ),
        (
            Case {
                name: "ImageListPullJob without images",
                kruise_refuses: true,
                ours_refuses: true,
            },
            list("spec:\n  images: []\n"),
        ),
        (
            Case {
                name: "ImageListPullJob with a duplicate image",
                kruise_refuses: true,
                ours_refuses: true,
            },
            list("spec:\n  images: [example.invalid/a:v1, example.invalid/a:v1]\n"),
        ),
        (
            Case {
                name: "ImageListPullJob with a bad reference",
                kruise_refuses: true,
                ours_refuses: true,
            },
            list("spec:\n  images: [\"Bad Image!\"]\n"),
        ),
    ]
}

/// What a system answered: `None` when it accepted the object, else kubectl's error.
pub async fn answer(kubectl: &Kubectl, manifest: &str) -> Option<String> {
    match kubectl
        .run_with_stdin(&["create", "-f", "-", "-o", "name"], Some(manifest))
        .await
    {
        Ok(created) => {
            // Leave nothing behind for the schedulers: delete what was accepted.
            let _ = kubectl
                .run(&["delete", created.trim(), "--wait=false"])
                .await;
            None
        }
        Err(error) => Some(first_line_of_error(&format!("{error:#}"))),
    }
}

/// kubectl's message without the command line the harness prefixes.
fn first_line_of_error(error: &str) -> String {
    let message = error.split_once("): ").map_or(error, |(_, rest)| rest);
    message.lines().next().unwrap_or_default().to_owned()
}
