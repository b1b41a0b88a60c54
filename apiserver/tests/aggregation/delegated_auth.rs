//! Authentication and authorization delegated to kube-apiserver: RBAC decides whether the
//! request comes through the aggregator (kube-apiserver authorizes, we trust its identity
//! headers) or straight to our server (we authenticate the client certificate against the
//! cluster's client CA and ask a SubjectAccessReview), and bearer tokens are reviewed.

use std::time::Duration;

use prepull_testbed::eventually;

use crate::support::{Env, apply, fails, ok};

const ROLE: &str = r#"{
  "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
  "metadata": {"name": "job-reader", "namespace": "team-a"},
  "rules": [{"apiGroups": ["apps.kruise.io"], "resources": ["imagepulljobs"],
             "verbs": ["get", "list", "watch"]}]
}"#;

async fn namespaces_and_role(env: &Env) {
    for ns in ["team-a", "team-b"] {
        let _ = env.admin.run(&["create", "namespace", ns]).await;
    }
    apply(env, ROLE).await;
}

fn forbidden_text(user: &str, ns: &str) -> String {
    format!(
        r#"User "{user}" cannot list resource "imagepulljobs" in API group "apps.kruise.io" in the namespace "{ns}""#
    )
}

/// alice may read jobs in team-a only; nobody may read none; both through kube-apiserver and
/// straight to our server (where our SubjectAccessReview decides).
pub async fn rbac_decides_through_kube_apiserver_and_straight_to_our_server(env: &Env) {
    namespaces_and_role(env).await;
    ok(
        &env.admin,
        &[
            "create",
            "rolebinding",
            "alice-reads",
            "-n",
            "team-a",
            "--role=job-reader",
            "--user=alice",
        ],
    )
    .await;
    let through = env.through_kube_as_user("alice", &[]);
    let direct = env.direct_as_user("alice", &[]);
    for kubectl in [&through, &direct] {
        ok(kubectl, &["get", "imagepulljobs", "-n", "team-a"]).await;
        let refused = fails(kubectl, &["get", "imagepulljobs", "-n", "team-b"]).await;
        assert!(
            refused.contains(&forbidden_text("alice", "team-b")),
            "{refused}"
        );
    }
    for kubectl in [
        env.through_kube_as_user("nobody", &[]),
        env.direct_as_user("nobody", &[]),
    ] {
        let refused = fails(&kubectl, &["get", "imagepulljobs", "-n", "team-a"]).await;
        assert!(
            refused.contains(&forbidden_text("nobody", "team-a")),
            "{refused}"
        );
    }
    // Group membership comes along: a system:masters certificate needs no review.
    let admin = env.direct_as_user("root", &["system:masters"]);
    ok(&admin, &["get", "imagepulljobs", "-n", "team-b"]).await;
}

/// A ServiceAccount token sent straight to our server is reviewed (TokenReview) and its user
/// authorized; an invalid token and a certificate from an unknown CA are 401.
pub async fn service_account_tokens_are_reviewed_and_bad_credentials_are_401(env: &Env) {
    let _ = env
        .admin
        .run(&["create", "serviceaccount", "robot", "-n", "team-a"])
        .await;
    ok(
        &env.admin,
        &[
            "create",
            "rolebinding",
            "robot-reads",
            "-n",
            "team-a",
            "--role=job-reader",
            "--serviceaccount=team-a:robot",
        ],
    )
    .await;
    let token = ok(&env.admin, &["create", "token", "robot", "-n", "team-a"]).await;
    let robot = env.direct_with_token("robot", token.trim());
    ok(&robot, &["get", "imagepulljobs", "-n", "team-a"]).await;
    let refused = fails(&robot, &["get", "imagepulljobs", "-n", "team-b"]).await;
    assert!(
        refused.contains(&forbidden_text(
            "system:serviceaccount:team-a:robot",
            "team-b"
        )),
        "{refused}"
    );

    let forged = env.direct_with_token("forged", "not-a-real-token");
    let refused = fails(&forged, &["get", "imagepulljobs", "-n", "team-a"]).await;
    assert!(refused.contains("Unauthorized"), "{refused}");

    let stranger_ca = prepull_testbed::CertificateAuthority::new("stranger").unwrap();
    let stranger = stranger_ca
        .issue_client("root", &["system:masters"])
        .unwrap();
    let refused = fails(
        &env.direct_with_cert("stranger", &stranger),
        &["get", "imagepulljobs", "-n", "team-a"],
    )
    .await;
    assert!(refused.contains("Unauthorized"), "{refused}");
}

/// How long our server may take to see a ConfigMap change (a watch event).
const TRUST_TIMEOUT: Duration = Duration::from_secs(30);

/// A CA appended to `client-ca-file` in kube-system/extension-apiserver-authentication is
/// trusted by the running server: its certificate, refused (401) before, now authenticates (the
/// user has no rights, so 403).
pub async fn a_client_ca_added_to_the_config_map_is_trusted_without_a_restart(env: &Env) {
    let ca = prepull_testbed::CertificateAuthority::new("added-later").unwrap();
    let kubectl = env.direct_with_cert("carol", &ca.issue_client("carol", &[]).unwrap());
    let refused = fails(&kubectl, &["get", "imagepulljobs", "-n", "team-a"]).await;
    assert!(refused.contains("Unauthorized"), "{refused}");

    eventually(
        "the CA is added to the ConfigMap",
        TRUST_TIMEOUT,
        || async {
            let text = env
                .admin
                .run(&[
                    "get",
                    "configmap",
                    "extension-apiserver-authentication",
                    "-n",
                    "kube-system",
                    "-o",
                    "json",
                ])
                .await?;
            let mut config_map: serde_json::Value = serde_json::from_str(&text)?;
            let bundle = config_map["data"]["client-ca-file"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            config_map["data"]["client-ca-file"] = format!("{bundle}{}", ca.cert_pem()).into();
            env.admin
                .run_with_stdin(&["replace", "-f", "-"], Some(&config_map.to_string()))
                .await
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err:#}"));

    let refused = eventually("our server trusts the added CA", TRUST_TIMEOUT, || async {
        let refused = fails(&kubectl, &["get", "imagepulljobs", "-n", "team-a"]).await;
        if refused.contains("Forbidden") || refused.contains("forbidden") {
            Ok(refused)
        } else {
            Err(refused)
        }
    })
    .await
    .unwrap_or_else(|err| panic!("{err:#}"));
    assert!(
        refused.contains(&forbidden_text("carol", "team-a")),
        "{refused}"
    );
}
