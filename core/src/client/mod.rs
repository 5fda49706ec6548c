//! Rust clients of the v1 scheduler and executor APIs (the operator API follows), used by
//! tests, benchmarks, the CLI (`remesos execute`, `remesos executor`) and the JNI driver.

pub mod credential;
pub mod driver;
pub mod executor;
pub mod scheduler;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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

/// An HTTP/1.1 client for the v1 APIs (plain HTTP; Mesos's APIs are served without TLS here).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient {
            // Idle connections are given up before the daemons' header timeout closes them
            // (api/serve.rs), so a call never races the server's close.
            inner: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(20))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build_http(),
        }
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
        self.inner
            .request(request)
            .await
            .map_err(|e| Error::Http(e.to_string()))
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
            .inner
            .request(request)
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let body = collect(response).await?;
        Ok((status, body))
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
