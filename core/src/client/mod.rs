//! Rust clients of the v1 scheduler and executor APIs (the operator API follows), used by
//! tests, benchmarks, the CLI (`remesos execute`, `remesos executor`) and the JNI driver.

pub mod containers;
pub mod credential;
pub mod driver;
pub mod executor;
pub mod scheduler;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use crate::api::Format;
pub use credential::{Credential, CredentialError, Identity};

/// Errors of the v1 clients.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("http: {0}")]
    Http(String),
    #[error("{status}: {body}")]
    Status { status: u16, body: String },
    #[error("malformed response: {0}")]
    Decode(String),
    #[error("the event stream ended")]
    StreamEnded,
}

pub type Result<T> = std::result::Result<T, Error>;

/// An HTTP/1.1 client for the v1 APIs. With `LIBPROCESS_SSL_ENABLED` the URLs this module
/// builds are `https` ([`scheme`]) and connections use the process's TLS client
/// configuration (security/tls.rs: certificate verification, the client certificate);
/// without it, an `https` URL is refused (no CA is configured to check it against).
#[derive(Clone)]
pub struct HttpClient {
    inner: std::result::Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String>,
}

/// `https` when this process's `LIBPROCESS_SSL_ENABLED` is on, else `http`: the scheme of
/// every URL the clients build from a `host:port` (as Mesos's scheduler and executor
/// libraries choose theirs from libprocess's SSL flag).
pub fn scheme() -> &'static str {
    match crate::security::tls::process() {
        Ok(tls) => crate::security::tls::Tls::scheme(tls.as_deref()),
        // Never plain when TLS was asked for and cannot be honoured: the client refuses
        // every request (below).
        Err(_) => "https",
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        let inner = crate::security::tls::current().map(|tls| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new();
            let connector = match tls {
                Some(tls) => connector.with_tls_config((*tls.client).clone()),
                None => connector.with_tls_config(crate::security::tls::no_trust_client_config()),
            };
            // Idle connections are given up before the daemons' header timeout closes
            // them (api/serve.rs), so a call never races the server's close.
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(20))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector.https_or_http().enable_http1().build())
        });
        HttpClient { inner }
    }
}

impl HttpClient {
    /// POSTs `body` and returns the response with its body still streaming.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        accept: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let mut request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::ACCEPT, accept);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::Http(e.to_string()))?;
        self.client()?
            .request(request)
            .await
            .map_err(|e| Error::Http(crate::common::error_chain(&e)))
    }

    pub async fn get(&self, url: &str) -> Result<(u16, Bytes)> {
        self.get_with(url, &[]).await
    }

    /// GETs `url` with extra `headers` (e.g. `Authorization`).
    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Result<(u16, Bytes)> {
        let mut request = hyper::Request::get(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Http(e.to_string()))?;
        let response = self
            .client()?
            .request(request)
            .await
            .map_err(|e| Error::Http(crate::common::error_chain(&e)))?;
        let status = response.status().as_u16();
        let body = collect(response).await?;
        Ok((status, body))
    }
}

impl HttpClient {
    fn client(&self) -> Result<&Client<HttpsConnector<HttpConnector>, Full<Bytes>>> {
        self.inner.as_ref().map_err(|e| Error::Http(e.clone()))
    }
}

pub async fn collect(response: hyper::Response<hyper::body::Incoming>) -> Result<Bytes> {
    response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| Error::Http(e.to_string()))
}
