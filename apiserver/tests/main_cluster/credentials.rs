//! Pull secrets reach only the agent of the node that pulls: the NodeImage `credentials`
//! subresource answers node c1's identities (node certificate, the configured agent service
//! account with a node-bound token) with c1's secrets, refuses c2's identities and any other
//! service account, and a missing Secret leaves a warning Event on the job. A node cannot
//! write a Secret reference into its own NodeImage, and one written there anyway is never
//! handed out: credentials follow the jobs. The agent's side fetches and matches them over
//! HTTP.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use prepull_api::node_image::ReferenceObject;
use prepull_api::{ApiVersion, Kind};
use prepull_apiserver::auth::UserInfo;
use prepull_apiserver::auth::authorize::NODES_GROUP;
use prepull_apiserver::auth::delegated::NODE_NAME_EXTRA;
use prepull_apiserver::auth::node_restriction::NodeRestriction;
use prepull_apiserver::main_cluster::events::PULL_SECRET_NOT_FOUND;
use prepull_apiserver::registry::{Body as WriteBody, Subresource, WriteParams};
use prepull_nodeagent::handed_credentials::HandedCredentials;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::long_ago;
use super::support::{World, event_note};

const IMAGE: &str = "127.0.0.1:5999/team/app";
const PASSWORD: &str = "s3cret-pw";
const FOREIGN_PASSWORD: &str = "kube-system-only";

fn node_user(node: &str) -> UserInfo {
    UserInfo::authenticated(format!("system:node:{node}"), vec![NODES_GROUP.into()])
}

/// The configured agent service account with a token bound to a Pod on `node`, as the
/// authenticator marks it.
fn agent_account_on(node: &str) -> UserInfo {
    let mut user = UserInfo::authenticated(
        "system:serviceaccount:prepull-system:prepull-agent".into(),
        vec!["system:serviceaccounts".into()],
    );
    user.extra
        .insert(NODE_NAME_EXTRA.into(), vec![node.to_owned()]);
    user.acts_for_node = Some(node.to_owned());
    user
}

/// `GET .../nodeimages/<node>/credentials?image=IMAGE` as `user`: status and body.
async fn ask(routes: &Router, node: &str, user: UserInfo) -> (StatusCode, Value) {
    let uri = format!(
        "/apis/apps.kruise.io/v1beta1/nodeimages/{node}/credentials?image={}",
        IMAGE.replace('/', "%2F")
    );
    let mut request = Request::get(uri).body(Body::empty()).expect("request");
    request.extensions_mut().insert(user);
    let response = routes.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub async fn only_the_agent_of_the_pulling_node_gets_the_pull_secrets(world: &World) {
    world.create_namespace("creds").await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "creds");
    let auths = json!({"127.0.0.1:5999": {"username": "alice", "password": PASSWORD}});
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "regcred"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": auths}).to_string()},
    }))
    .expect("a secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    for name in ["c1", "c2"] {
        world.create_node(name, &[], long_ago()).await;
    }
    for name in ["c1", "c2"] {
        world
            .node_image_where(name, "created", |n| n.is_some())
            .await;
    }
    world
        .create_job(
            "creds",
            "private",
            json!({
                "image": format!("{IMAGE}:v1"),
                "selector": {"names": ["c1"]},
                "pullSecrets": ["regcred", "absent"],
                "completionPolicy": {"type": "Never"},
            }),
        )
        .await;
    let c1 = world
        .node_image_where("c1", "has the task", |n| {
            n.as_ref()
                .is_some_and(|n| n.spec.images.contains_key(IMAGE))
        })
        .await
        .expect("exists");
    let stored = serde_json::to_string(&c1).expect("json");
    assert!(
        !stored.contains(PASSWORD),
        "secrets are never written to a NodeImage"
    );

    let routes: Router = world.main_cluster().routes();
    let reviewed = node_bound_identity(world, "c1").await;
    let (status, body) = ask(&routes, "c1", reviewed.clone()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a service account that is not a configured agent is no node, whatever its token: {body}"
    );
    let mut real_agent = reviewed;
    real_agent.acts_for_node = Some("c1".to_owned());
    for user in [node_user("c1"), agent_account_on("c1"), real_agent] {
        let (status, body) = ask(&routes, "c1", user.clone()).await;
        assert_eq!(status, StatusCode::OK, "{} gets c1's: {body}", user.name);
        assert_eq!(body["kind"], "NodeCredentials");
        assert_eq!(body["configs"], json!([{"auths": auths}]));
    }
    for user in [node_user("c2"), agent_account_on("c2")] {
        let (status, body) = ask(&routes, "c1", user.clone()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} is refused c1's",
            user.name
        );
        assert!(!body.to_string().contains(PASSWORD));
    }
    let admin = UserInfo::authenticated("admin".into(), vec!["system:masters".into()]);
    assert_eq!(ask(&routes, "c1", admin).await.0, StatusCode::FORBIDDEN);
    let (status, _) = ask(&routes, "c2", node_user("c2")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "c2 has no task for the image"
    );

    // The missing Secret: a warning Event on the job.
    let note = event_note(world, "creds", "private", PULL_SECRET_NOT_FOUND, "Warning").await;
    assert!(note.contains("creds/absent"), "{note}");
    assert!(!note.contains(PASSWORD));

    a_secret_in_the_node_image_is_never_handed(world, &routes, &auths).await;
    the_agent_fetches_and_matches_its_credentials(routes).await;
}

/// Node c1 adding a kube-system Secret to its own NodeImage is refused (403); written there
/// anyway (as if by someone else), it is still never handed to c1: only the job's are.
async fn a_secret_in_the_node_image_is_never_handed(world: &World, routes: &Router, auths: &Value) {
    let foreign: Secret = serde_json::from_value(json!({
        "metadata": {"name": "cluster-admin-pull"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": {"127.0.0.1:5999": {
            "username": "root", "password": FOREIGN_PASSWORD}}}).to_string()},
    }))
    .expect("a secret");
    Api::<Secret>::namespaced(world.client.clone(), "kube-system")
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create the foreign secret");
    let store = world.registry.store(Kind::NodeImage);
    let with_foreign = || async {
        let mut node = world.node_image("c1").await.expect("NodeImage c1");
        node.spec
            .images
            .get_mut(IMAGE)
            .expect("the task")
            .pull_secrets
            .push(ReferenceObject {
                namespace: "kube-system".into(),
                name: "cluster-admin-pull".into(),
                ..ReferenceObject::default()
            });
        WriteBody::Value(serde_json::to_value(&node).expect("json"))
    };
    let c1 = node_user("c1");
    let refused = store
        .update_checked(
            None,
            "c1",
            with_foreign().await,
            ApiVersion::V1alpha1,
            Subresource::Main,
            &WriteParams::default(),
            &NodeRestriction::new(&c1, Kind::NodeImage),
        )
        .await
        .expect_err("a node may not write its NodeImage's spec");
    assert_eq!(refused.code, StatusCode::FORBIDDEN);
    assert!(
        refused.message.contains(r#"node "c1" may not modify spec"#),
        "{}",
        refused.message
    );
    let mut written = false;
    let params = WriteParams::default();
    for _ in 0..10 {
        let body = with_foreign().await;
        let update = store.update(
            None,
            "c1",
            body,
            ApiVersion::V1alpha1,
            Subresource::Main,
            &params,
        );
        match update.await {
            Ok(_) => {
                written = true;
                break;
            }
            Err(err) if err.code == StatusCode::CONFLICT => continue,
            Err(err) => panic!("writing the NodeImage: {}", err.message),
        }
    }
    assert!(written, "the NodeImage write kept conflicting");
    let (status, body) = ask(routes, "c1", node_user("c1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["configs"],
        json!([{ "auths": auths }]),
        "only the job's Secret"
    );
    assert!(!body.to_string().contains(FOREIGN_PASSWORD));
}

/// The agent's side, over HTTP: the routes served on a loopback port, the caller being
/// node c1 (what the router's authentication would establish).
async fn the_agent_fetches_and_matches_its_credentials(routes: Router) {
    let as_c1 = routes.layer(axum::middleware::from_fn(
        |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
            request.extensions_mut().insert(node_user("c1"));
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move { axum::serve(listener, as_c1).await });
    let config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().expect("a url"));
    let client = kube::Client::try_from(config).expect("client");
    let handed = HandedCredentials::new(client, "c1".to_owned());
    let credentials = handed.fetch(IMAGE).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0].username, "alice");
    assert_eq!(credentials[0].password, PASSWORD);
    assert!(
        handed.fetch("127.0.0.1:5999/other").await.is_empty(),
        "no task for that image: nothing handed"
    );
    server.abort();
}

/// The identity kube-apiserver gives the agent on `node`: a token bound to a Pod on that node
/// (TokenRequest), as TokenReview reports it (with the node's name in its extra info).
async fn node_bound_identity(world: &World, node: &str) -> UserInfo {
    let accounts: Api<ServiceAccount> = Api::namespaced(world.client.clone(), "creds");
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "agent"}})).expect("an SA");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("create the agent's service account");
    let pods: Api<Pod> = Api::namespaced(world.client.clone(), "creds");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": format!("agent-{node}")},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "agent",
            "automountServiceAccountToken": false,
            "containers": [{"name": "agent", "image": "registry.example/agent:1"}],
        },
    }))
    .expect("a pod");
    let pod = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create the agent's pod");
    let request: TokenRequest = serde_json::from_value(json!({
        "spec": {
            "audiences": [],
            "boundObjectRef": {
                "apiVersion": "v1", "kind": "Pod",
                "name": pod.metadata.name, "uid": pod.metadata.uid,
            },
        },
    }))
    .expect("a token request");
    let token: TokenRequest = accounts
        .create_subresource("token", "agent", &PostParams::default(), &request)
        .await
        .expect("a pod-bound token");
    let token = token.status.expect("issued").token;
    let review: TokenReview =
        serde_json::from_value(json!({"spec": {"token": token}})).expect("a review");
    let reviewed = Api::<TokenReview>::all(world.client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("token review");
    let user = reviewed
        .status
        .filter(|s| s.authenticated == Some(true))
        .and_then(|s| s.user)
        .expect("the token authenticates");
    let mut info = UserInfo::authenticated(
        user.username.unwrap_or_default(),
        user.groups.unwrap_or_default(),
    );
    info.extra = user.extra.unwrap_or_default().into_iter().collect();
    assert_eq!(
        info.extra.get(NODE_NAME_EXTRA),
        Some(&vec![node.to_owned()]),
        "kube-apiserver names the node in the token's extra info"
    );
    info
}
