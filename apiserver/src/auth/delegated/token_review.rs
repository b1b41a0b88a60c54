//! Bearer tokens checked by kube-apiserver (TokenReview), the answers remembered briefly.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::Api;
use kube::api::PostParams;
use sha2::{Digest, Sha256};

use crate::auth::UserInfo;
use crate::auth::ttl_cache::TtlCache;

/// Deadline of one TokenReview.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many tokens are remembered.
const CACHE_CAPACITY: usize = 4096;

/// Asks kube-apiserver who a bearer token belongs to.
pub struct TokenReviewer {
    client: kube::Client,
    /// Keyed by the token's SHA-256 (tokens themselves are not kept); `None` = rejected.
    cache: TtlCache<[u8; 32], Option<Arc<UserInfo>>>,
    ttl: Duration,
}

impl std::fmt::Debug for TokenReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReviewer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenReviewer {
    /// Reviews through `client`, remembering answers (accepted and rejected) for `ttl`
    /// (kube's `--authentication-token-webhook-cache-ttl`, 10 s by default).
    pub fn new(client: kube::Client, ttl: Duration) -> TokenReviewer {
        TokenReviewer {
            client,
            cache: TtlCache::new(CACHE_CAPACITY),
            ttl,
        }
    }

    /// The user `token` authenticates, `Ok(None)` when kube-apiserver rejects it, `Err` when
    /// it could not be asked (not cached).
    pub async fn review(&self, token: &str) -> Result<Option<UserInfo>, String> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.cache.get(&key) {
            return Ok(known.map(|user| (*user).clone()));
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| format!("TokenReview took longer than {REVIEW_TIMEOUT:?}"))?
                .map_err(|err| format!("TokenReview failed: {err}"))?;
        let user = answer
            .status
            .filter(|status| status.authenticated == Some(true))
            .and_then(|status| status.user)
            .and_then(|info| {
                let name = info.username.filter(|n| !n.is_empty())?;
                let mut user = UserInfo::authenticated(name, info.groups.unwrap_or_default());
                user.uid = info.uid.unwrap_or_default();
                user.extra = info.extra.unwrap_or_default().into_iter().collect();
                Some(user)
            });
        self.cache.insert(key, user.clone().map(Arc::new), self.ttl);
        Ok(user)
    }
}
