//! The running standalone server keeps its serving certificate fresh: every
//! [`CHECK_EVERY`], a serving certificate with less than [`pki::RENEW_BEFORE`] left is
//! re-issued from the CA and the listener serves it to new connections (no restart; the
//! kubeconfigs trust the CA, not the certificate, so they keep working).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::pki;
use crate::serve::ReloadingServingCert;

/// How often the serving certificate's remaining time is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(60 * 60);

/// Renews the serving certificate in `pki_dir` when due, until `stop` is cancelled.
pub async fn run(
    pki_dir: PathBuf,
    tls_sans: Vec<String>,
    serving: Arc<ReloadingServingCert>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        match pki::renew_serving_if_due(&pki_dir, &tls_sans, pki::RENEW_BEFORE) {
            Ok(false) => {}
            Ok(true) => match serving.reload() {
                Ok(_) => tracing::info!("serving certificate renewed; new connections use it"),
                Err(err) => tracing::warn!(%err, "renewed serving certificate not loaded yet"),
            },
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "renewing the serving certificate failed; retrying later")
            }
        }
    }
}
