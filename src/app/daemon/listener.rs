//! The daemon's doors (SPEC section 7): accepts connections, over TLS
//! where configured, with a bound on how many are held at once and on how
//! long a request head may take, and a shutdown that no idle or half-open
//! connection can hold up for more than ten seconds.
//!
//! Serves HTTP/1.1 only. Knows nothing of the routes: it is given a router.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// A request head (and a TLS handshake) must be complete within this long
/// of the accept, or of the previous response on a kept-alive connection.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the shutdown waits for connections still open.
const DRAIN: Duration = Duration::from_secs(10);

/// How the daemon listens.
pub struct Doors {
    /// `None` serves plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// Accepted connections held at once; more wait to be accepted.
    pub max_connections: usize,
}

/// TLS from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    itsmid_connectors::http::install_crypto_provider();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|err| {
            anyhow!(
                "server.tls_cert {}: not a PEM certificate chain ({err}); write the server's certificate and its chain as PEM",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(anyhow!(
            "server.tls_cert {}: holds no certificate; write the server's certificate as PEM",
            cert.display()
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
        anyhow!(
            "server.tls_key {}: not a PEM private key ({err}); write the certificate's key as PEM (PKCS#8, PKCS#1 or SEC1)",
            key.display()
        )
    })?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .with_context(|| {
            format!(
                "server.tls_cert {} and server.tls_key {} do not make a TLS identity",
                cert.display(),
                key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// SPEC section 7: an address that is not loopback needs TLS, or plain
/// HTTP said out loud.
pub fn check_plain_http(addr: SocketAddr, tls: bool, allow_plain_http: bool) -> Result<(), String> {
    if tls || allow_plain_http || addr.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "{addr} is not a loopback address, and the daemon serves personal data: set \
         server.tls_cert and server.tls_key (PEM files), or server.allow_plain_http = true \
         behind a proxy that terminates TLS"
    ))
}

/// Accepts and serves until `stopped` turns true, then closes idle
/// connections and waits at most ten seconds for the others.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    doors: Doors,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(doors.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!("cannot accept a connection: {err}");
                    continue;
                }
            },
        };
        let router = router.clone();
        let watcher = graceful.watcher();
        let tls = doors.tls.clone();
        let accepted = std::time::Instant::now();
        tokio::spawn(async move {
            // Held until the connection ends.
            let _permit = permit;
            match tls {
                None => serve_connection(stream, router, watcher, HEAD_TIMEOUT).await,
                Some(tls) => match tokio::time::timeout(HEAD_TIMEOUT, tls.accept(stream)).await {
                    // The head is due within the same ten seconds as the
                    // handshake: the first request gets what is left (a
                    // kept-alive one as long, which only makes it stricter).
                    Ok(Ok(stream)) => {
                        let left = HEAD_TIMEOUT
                            .saturating_sub(accepted.elapsed())
                            .max(Duration::from_secs(1));
                        serve_connection(stream, router, watcher, left).await
                    }
                    Ok(Err(err)) => tracing::debug!("TLS handshake refused: {err}"),
                    Err(_) => tracing::debug!("TLS handshake not done in time; closed"),
                },
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {
            tracing::info!("stopping: connections still open after {DRAIN:?} are dropped");
        }
    }
}

/// One connection: HTTP/1.1 with the head timeout, watched for shutdown.
async fn serve_connection<S>(
    stream: S,
    router: Router,
    watcher: hyper_util::server::graceful::Watcher,
    head_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, request).await }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!("connection ended: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_serve_plain_http_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:8377".parse().expect("an address");
        let loopback: SocketAddr = "127.0.0.1:8377".parse().expect("an address");
        assert!(check_plain_http(loopback, false, false).is_ok());
        assert!(check_plain_http(public, true, false).is_ok());
        assert!(check_plain_http(public, false, true).is_ok());
        let err = check_plain_http(public, false, false).expect_err("refused");
        assert!(err.contains("server.tls_cert"), "{err}");
        assert!(err.contains("allow_plain_http"), "{err}");
    }
}
