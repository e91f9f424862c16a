//! The TLS settings of the native `wss://` and `https://` paths: the system's trust
//! store (native-tls, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR` through
//! OpenSSL), plus the certificates of `NODE_EXTRA_CA_CERTS`, as Node adds them. The
//! file is read once per process, as Node reads it once at startup; a file that
//! cannot be read or parsed is reported once on stderr, in Node's words, and ignored.

use std::sync::OnceLock;

use tokio_native_tls::native_tls::{Certificate, TlsConnector};

/// The certificates of `NODE_EXTRA_CA_CERTS`, read once.
fn extra_certificates() -> &'static [Certificate] {
    static EXTRA: OnceLock<Vec<Certificate>> = OnceLock::new();
    EXTRA.get_or_init(|| {
        let Some(file) = std::env::var_os("NODE_EXTRA_CA_CERTS").filter(|f| !f.is_empty()) else {
            return Vec::new();
        };
        match std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|pem| parse(&pem))
        {
            Ok(certs) => certs,
            Err(e) => {
                eprintln!(
                    "Warning: Ignoring extra certs from `{}`, load failed: {e}",
                    file.to_string_lossy()
                );
                Vec::new()
            }
        }
    })
}

/// Every certificate of a PEM bundle.
fn parse(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let certs = text
        .match_indices(BEGIN)
        .map(|(at, _)| Certificate::from_pem(text[at..].as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// A connector trusting the system's roots and `NODE_EXTRA_CA_CERTS`.
pub fn connector() -> Result<TlsConnector, String> {
    let mut builder = TlsConnector::builder();
    for cert in extra_certificates() {
        builder.add_root_certificate(cert.clone());
    }
    builder.build().map_err(|e| format!("TLS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        assert!(parse(b"not a certificate").is_err());
    }
}
