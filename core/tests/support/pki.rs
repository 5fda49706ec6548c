//! Certificates made at test time (rcgen) for the TLS tests: a CA, a certificate for the
//! daemons (`localhost` and `127.0.0.1`-`4`), one for clients, and a second CA nobody trusts;
//! and libprocess's environment (`LIBPROCESS_SSL_*`) that points a process at them.

use std::path::PathBuf;

/// The PEM files of a test's PKI, in a directory removed when dropped.
pub struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// `ca.pem` signs `daemon.{pem,key}` (localhost, 127.0.0.1-4) and `client.{pem,key}`
    /// (localhost: the `legacy` scheme matches a client's reverse-DNS name);
    /// `rogue-ca.pem` is a CA nobody trusts.
    pub fn make(tag: &str) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let dir = std::env::temp_dir().join(format!(
            "remesos-pki-{tag}-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let cert = params.self_signed(&key).unwrap();
            (cert, key)
        };
        let (ca_cert, ca_key) = ca("remesos TLS test CA");
        let (rogue_cert, _) = ca("rogue CA");
        write("ca.pem", ca_cert.pem());
        write("rogue-ca.pem", rogue_cert.pem());
        for (name, sans) in [
            (
                "daemon",
                // 127.0.0.2-4: the agents of `remesos local --agent_loopback_ips`.
                [
                    "localhost",
                    "127.0.0.1",
                    "127.0.0.2",
                    "127.0.0.3",
                    "127.0.0.4",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ("client", vec!["localhost".to_string()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, &ca_cert, &ca_key)
                .unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    /// libprocess's environment for a process presenting `cert` (`daemon` or `client`) and
    /// trusting `ca.pem`: TLS on, `extra` on top.
    pub fn env(&self, cert: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("LIBPROCESS_SSL_ENABLED".to_string(), "true".to_string()),
            (
                "LIBPROCESS_SSL_CERT_FILE".into(),
                self.path(&format!("{cert}.pem")),
            ),
            (
                "LIBPROCESS_SSL_KEY_FILE".into(),
                self.path(&format!("{cert}.key")),
            ),
            ("LIBPROCESS_SSL_CA_FILE".into(), self.path("ca.pem")),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }
}
